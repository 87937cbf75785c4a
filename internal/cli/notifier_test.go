package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func TestNotifierCommand(t *testing.T) {
	base := filepath.Join(t.TempDir(), "node")
	if err := os.CopyFS(base, os.DirFS(testutil.Testdata(t, "grid", "nodes", "storage1"))); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "storage", "shares"), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, []string{"notifier", "--base-dir", base})
	}()
	p := filepath.Join(base, "watch-nurl")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(p); strings.HasPrefix(string(b), "pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no watch-nurl; stderr %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	if strings.Contains(errb.String(), "ybfivklbe4gewouzxckbuc6fhlwwf777") {
		t.Error("the swissnum was logged")
	}
}

func TestNotifierCommandErrors(t *testing.T) {
	for _, args := range [][]string{
		{"notifier"},
		{"notifier", "--base-dir", t.TempDir()},
		{"notifier", "--base-dir", filepath.Join(t.TempDir(), "missing")},
	} {
		code, _, errOut := run(t, args...)
		if code != ExitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestDemoShowsLiveEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, Streams{In: strings.NewReader(""), Out: out, Err: errOut}, []string{"demo", "--writer-interval", "200ms"})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !(strings.Contains(out.String(), "todo.txt") && strings.Contains(out.String(), "added")) {
		select {
		case c := <-code:
			t.Fatalf("demo exited %d; stderr:\n%s", c, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no todo.txt change and no added entry within 60s; stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case c := <-code:
		if c != ExitOK {
			t.Errorf("exit %d after cancel", c)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop")
	}
	for _, want := range []string{"Grid file:", "URI:DIR2-RO:", " -r --grid ", " tui -r --grid ", " ls -R --grid "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(out.String()+errOut.String(), "URI:DIR2:") || strings.Contains(out.String()+errOut.String(), "URI:SSK:") {
		t.Error("a write cap was printed")
	}
	t.Logf("events:\n%s", out.String())
}

// TestDemoBadFlags: a grid too small for the demo's files, or a writer
// with no pause between writes, is refused before any server starts.
func TestDemoBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--servers", "2"}, "--servers must be at least"},
		{[]string{"demo", "--writer-interval", "0s"}, "--writer-interval 0s: want more than 0"},
		{[]string{"demo", "--writer-interval", "-1s"}, "--writer-interval -1s"},
	} {
		code, _, errOut := run(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "Started") {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

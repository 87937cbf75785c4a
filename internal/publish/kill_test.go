package publish_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// TestKillMidChunkedWrite runs five serve processes, publishes a file
// whose shares go in many chunked read-test-writes, and SIGKILLs one
// server the moment its write-ahead journal appears during the next
// version's write. After a restart every share on it parses, no journal
// is left, and the file reads back as one of its two versions.
func TestKillMidChunkedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	defer publish.SetChunking(32<<10, 16<<10)()
	bin := filepath.Join(t.TempDir(), "tahoe-watch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tahoe-watch/tahoe-watch/cmd/tahoe-watch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var bases []string
	var cmds []*exec.Cmd
	for range 5 {
		base := t.TempDir()
		bases = append(bases, base)
		cmds = append(cmds, startServe(t, bin, base))
	}
	p := newPublisher(t, serveGrid(t, bases), 1)
	v1, v2 := random(400<<10), random(500<<10)
	res, err := p.Create(context.Background(), otherKey(t), v1, publish.Params{Format: cap.MDMF, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cap
	si := base32.Encode(c.StorageIndex())
	victim := -1
	for i, b := range bases { // any server holding shares of the file
		if _, err := os.Stat(filepath.Join(b, "storage", "shares", si[:2], si)); err == nil {
			victim = i
		}
	}
	dir := filepath.Join(bases[victim], "storage", "shares", si[:2], si)
	m, err := p.Map(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Update(context.Background(), m, v2); done <- err }()
	killAtJournal(t, cmds[victim], dir, done)
	<-done
	os.Remove(filepath.Join(bases[victim], "nurl"))
	cmds[victim] = startServe(t, bin, bases[victim]) // recovery happens at start
	p = newPublisher(t, serveGrid(t, bases), 1)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := container.ParseMutable(raw); err != nil {
			t.Fatalf("share %s does not parse after the kill: %v", e.Name(), err)
		}
		if strings.Contains(e.Name(), "wal") {
			t.Fatalf("journal %s left after restart", e.Name())
		}
	}
	got, _ := mustRead(t, p, c)
	if !bytes.Equal(got, v1) && !bytes.Equal(got, v2) {
		t.Fatalf("read %d bytes, neither version", len(got))
	}
}

// killAtJournal SIGKILLs cmd as soon as a journal file shows in dir (or
// after the write ended without one showing).
func killAtJournal(t *testing.T, cmd *exec.Cmd, dir string, done chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "wal") {
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				return
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the write ended (%v) before a journal was seen on the victim", err)
		default:
		}
	}
	t.Fatal("no journal appeared")
}

func startServe(t *testing.T, bin, base string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--base-dir", base, "--listen", "127.0.0.1:0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// serveGrid waits for each serve process's NURL and makes a grid of them.
func serveGrid(t *testing.T, bases []string) *grid.Grid {
	t.Helper()
	var infos []*grid.ServerInfo
	for _, base := range bases {
		var n *nurl.NURL
		for range 1000 {
			if b, err := os.ReadFile(filepath.Join(base, "nurl")); err == nil {
				if n, err = nurl.Parse(strings.TrimSpace(string(b))); err != nil {
					t.Fatal(err)
				}
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n == nil {
			t.Fatal("serve never wrote its NURL")
		}
		infos = append(infos, grid.FromNURL(n))
	}
	return grid.NewGrid(infos)
}

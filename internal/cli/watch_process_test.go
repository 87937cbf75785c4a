package cli

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchProcessStopsOnSIGTERM runs tahoe-watch as a real process with
// a write cap and --verbose, sends SIGTERM once it watches, and checks it
// exits 0 promptly, and that the write cap's key never reached its output.
func TestWatchProcessStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tahoe-watch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tahoe-watch/tahoe-watch/cmd/tahoe-watch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	g, p, c := watchGrid(t)
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	cmd := exec.Command(bin, append(g.ServerFlags(), "--verbose", "--json", c.String())...)
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "msg=watching") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("not watching; stderr:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte("second"), nil }); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), `"seqnum":2`) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no event; stderr:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v; stderr:\n%s", err, errOut.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 10s after SIGTERM")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start))
	secret := c.String()[strings.Index(c.String(), ":")+1:]
	secret = secret[strings.Index(secret, ":")+1:]
	secret = secret[:strings.Index(secret, ":")] // the writekey field
	if strings.Contains(out.String()+errOut.String(), secret) {
		t.Error("the write cap's key appears in the output or the logs")
	}
	if !strings.Contains(errOut.String(), "level=DEBUG") {
		t.Error("--verbose logged no debug lines, so the log check proves little")
	}
}

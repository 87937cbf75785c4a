package cli

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoHintsWorkAsPrinted runs the real binary's demo, from a
// directory outside the module and with the binary not on PATH, and runs
// every command it suggests through sh exactly as printed: each must
// succeed against the demo's grid while it runs.
func TestDemoHintsWorkAsPrinted(t *testing.T) {
	bin := buildBinary(t)
	demo := exec.Command(bin, "demo", "--writer-interval", "300ms")
	demo.Dir = t.TempDir()
	demo.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	stderr, err := demo.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { demo.Process.Signal(syscall.SIGTERM); demo.Wait() })
	hints := readHints(t, stderr)
	if len(hints) != 6 {
		t.Fatalf("%d hints, want 6: %q", len(hints), hints)
	}
	for _, h := range hints {
		if !strings.Contains(h, bin+" ") {
			t.Errorf("hint %q does not name the binary by its path %s", h, bin)
		}
	}
	want := []string{"changed", "todo.txt", "- try tahoe-watch", "seqnum", "demo/todo.txt", "URI:"}
	for i, h := range hints {
		t.Run(strings.Fields(strings.TrimPrefix(h, "echo hello | "))[1], func(t *testing.T) {
			var out string
			switch {
			case strings.Contains(h, " tui "):
				// script gives the dashboard the terminal it needs.
				cmd := exec.Command("script", "-qec", h, "/dev/null")
				cmd.Env = append(os.Environ(), "TERM=screen") // no colour query left unanswered
				out = runUntil(t, cmd, []byte("q"), want[i])
			case strings.Contains(h, " -r --grid "):
				out = runUntil(t, exec.Command("sh", "-c", h), nil, want[i])
			default:
				b, err := exec.Command("sh", "-c", h).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", h, err, b)
				}
				out = string(b)
			}
			if !strings.Contains(out, want[i]) {
				t.Errorf("%s printed no %q:\n%s", h, want[i], out)
			}
		})
	}
}

// readHints reads the demo's stderr up to its hints and returns them; the
// rest is drained in the background.
func readHints(t *testing.T, r io.Reader) []string {
	t.Helper()
	sc := bufio.NewScanner(r)
	var hints []string
	in := false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "In another terminal, try:"):
			in = true
		case in && strings.HasPrefix(l, "  "):
			hints = append(hints, strings.TrimPrefix(l, "  "))
		case in:
			go io.Copy(io.Discard, r)
			return hints
		}
	}
	t.Fatalf("the demo printed no hints (%v)", sc.Err())
	return nil
}

// runUntil starts a long-running command in its own process group, waits
// until its output holds want, then either writes quit to its stdin and
// waits for exit 0, or (quit nil) stops the group with SIGTERM.
func runUntil(t *testing.T, cmd *exec.Cmd, quit []byte, want string) string {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		select {
		case err := <-done:
			t.Fatalf("exited early (%v):\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("no %q within 30s:\n%s", want, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if quit == nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		<-done
		return out.String()
	}
	stdin.Write(quit)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after %q: %v\n%s", quit, err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("still running 10s after %q", quit)
	}
	return out.String()
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/a-b_c.d/servers.yaml": "/tmp/a-b_c.d/servers.yaml",
		"/tmp/my dir/x":             "'/tmp/my dir/x'",
		"it's":                      `'it'\''s'`,
		"$(rm)":                     "'$(rm)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

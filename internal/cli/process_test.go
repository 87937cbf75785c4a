package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// testBinary builds tahoe-watch once per test run and returns its path.
func testBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tahoe-watch-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "tahoe-watch")
		binOut, binErr = exec.Command("go", "build", "-o", binPath, "github.com/tahoe-watch/tahoe-watch/cmd/tahoe-watch").CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("build: %v\n%s", binErr, binOut)
	}
	return binPath
}

// proc is a tahoe-watch process started by a test.
type proc struct {
	cmd         *exec.Cmd
	out, errOut *lockedBuffer
	done        chan struct{}
	code        int
}

// startProc starts the binary with args; the test's end kills it.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(testBinary(t), args...), out: &lockedBuffer{}, errOut: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errOut
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitFor waits until cond holds on stdout or stderr.
func (p *proc) waitFor(t *testing.T, what string, cond func(out, errOut string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond(p.out.String(), p.errOut.String()) {
		select {
		case <-p.done:
			if cond(p.out.String(), p.errOut.String()) {
				return
			}
			t.Fatalf("exited %d before %s; stdout:\n%s\nstderr:\n%s", p.code, what, p.out.String(), p.errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s; stdout:\n%s\nstderr:\n%s", what, p.out.String(), p.errOut.String())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(30 * time.Second):
		t.Fatalf("still running; stderr:\n%s", p.errOut.String())
	}
	return -1
}

// stop sends SIGTERM and waits for the exit code.
func (p *proc) stop(t *testing.T) int {
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(t)
}

// cmdline returns the process's command line as other users see it.
func (p *proc) cmdline(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "cmdline"))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return strings.ReplaceAll(string(b), "\x00", " ")
}

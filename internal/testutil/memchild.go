package testutil

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

// memChildEnv carries a memory test's argument to the child process that
// does the measured work.
const memChildEnv = "TAHOE_WATCH_MEMORY_CHILD"

// MemoryChild returns the argument RunMemoryChild passed, and whether
// this process is such a child.
func MemoryChild() (string, bool) {
	v := os.Getenv(memChildEnv)
	return v, v != ""
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// RunMemoryChild re-runs test (a test of the calling package) in a child
// process with arg, and returns the child's output and its peak resident
// memory. The child must call LogPeakRSS last. The child reports its own
// peak: its rusage would count the parent's memory, which the vfork
// before exec shares. Linux only (the peak comes from /proc).
func RunMemoryChild(t *testing.T, test, arg string) (out string, peak int64) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the peak RSS comes from /proc/self/status (Linux)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), memChildEnv+"="+arg, "GOGC=50")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	m := vmHWM.FindSubmatch(b)
	if m == nil {
		t.Fatalf("child reported no VmHWM:\n%s", b)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return string(b), kb << 10
}

// LogPeakRSS logs this process's peak resident memory for RunMemoryChild.
func LogPeakRSS(t *testing.T) {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range bytes.Split(status, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmHWM:")) {
			t.Log(string(line))
		}
	}
}

// Pattern is n deterministic bytes, read at any offset, holding none of
// them: the input of the memory-bound tests, too big to keep.
type Pattern int64

// ReadAt fills b with the pattern's bytes from off.
func (p Pattern) ReadAt(b []byte, off int64) (int, error) {
	n := int64(p)
	if off >= n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), n-off)]
	for i := range b {
		x := off + int64(i)
		b[i] = byte(x*131 + x>>11)
	}
	if off+int64(len(b)) == n {
		return len(b), io.EOF
	}
	return len(b), nil
}

// Reader returns a reader of all the pattern's bytes from the start.
func (p Pattern) Reader() io.Reader { return io.NewSectionReader(p, 0, int64(p)) }

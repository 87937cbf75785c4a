package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// MaxBatchVar bounds TAHOE_WATCH_PATHS and TAHOE_WATCH_EVENTS: Linux
// refuses to start a program with one environment string over 128 KiB.
// A batch that does not fit keeps its newest lines and sets
// TAHOE_WATCH_TRUNCATED=1.
const MaxBatchVar = 64 << 10

// BatchEnv returns the TAHOE_WATCH_* variables of a run for the changes
// of batch (oldest first): those of Env for the newest, plus
// TAHOE_WATCH_PATHS (every distinct path, one per line, in order),
// TAHOE_WATCH_EVENTS (the events as NDJSON, as --json prints them),
// TAHOE_WATCH_COUNT (how many changes), TAHOE_WATCH_ROOT, _VIA and _TIME
// (of the newest).
func BatchEnv(batch []events.Event) []string {
	last := batch[len(batch)-1]
	env := append(Env(last),
		"TAHOE_WATCH_ROOT="+last.Root,
		"TAHOE_WATCH_VIA="+string(last.Via),
		"TAHOE_WATCH_TIME="+last.Time.UTC().Format(time.RFC3339Nano),
		"TAHOE_WATCH_COUNT="+strconv.Itoa(len(batch)))
	var paths, lines []string
	seen := map[string]bool{}
	for _, e := range batch {
		if !seen[e.Path] {
			seen[e.Path] = true
			paths = append(paths, e.Path)
		}
		b, _ := json.Marshal(e) // an Event always marshals
		lines = append(lines, string(b))
	}
	p, cutP := newestLines(paths, MaxBatchVar)
	ev, cutE := newestLines(lines, MaxBatchVar)
	env = append(env, "TAHOE_WATCH_PATHS="+p, "TAHOE_WATCH_EVENTS="+ev)
	if cutP || cutE {
		env = append(env, "TAHOE_WATCH_TRUNCATED=1")
	}
	return env
}

// newestLines joins the newest lines that fit in max bytes, each ending
// in a newline, and reports whether any were left out.
func newestLines(lines []string, max int) (string, bool) {
	n, i := 0, len(lines)
	for i > 0 && n+len(lines[i-1])+1 <= max {
		i--
		n += len(lines[i]) + 1
	}
	if i == len(lines) {
		return "", len(lines) > 0
	}
	return strings.Join(lines[i:], "\n") + "\n", i > 0
}

// Exit statuses of a run that did not exit by itself, as the shell and
// timeout(1) report them.
const (
	StatusNotExecutable = 126 // found but could not be executed
	StatusNotFound      = 127 // no such command
	StatusTimeout       = 124 // stopped by Options.Timeout
)

// StatusError is a command that failed with an exit status tahoe-watch
// passes on as its own (as xargs and env do).
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string {
	switch e.Status {
	case StatusNotFound:
		var xe *exec.Error
		if errors.As(e.Err, &xe) {
			return fmt.Sprintf("command not found: %s (not on $PATH)", xe.Name)
		}
		return fmt.Sprintf("command not found: %v", e.Err)
	case StatusNotExecutable:
		return fmt.Sprintf("command cannot be run: %v", e.Err)
	}
	return fmt.Sprintf("the command's last run failed with exit status %d", e.Status)
}

func (e *StatusError) Unwrap() error { return e.Err }

// statusOf maps a run's error to an exit status: 0 for success, the
// command's status, 128+N for death by signal N, 127 for a command not
// found and 126 for one that cannot be executed.
func statusOf(err error) int {
	var xerr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &xerr):
		if ws, ok := xerr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return xerr.ExitCode()
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return StatusNotFound
	}
	return StatusNotExecutable
}

// LastStatus returns the exit status of the last run that finished (0 if
// none): a script's --once or --count exits with it.
func (r *Runner) LastStatus() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// shellWords are the POSIX sh builtins and keywords a command line may
// start with; they are not looked up on $PATH.
var shellWords = strings.Fields(`. : [ alias bg break cd command continue echo eval exec exit export false fg
	getopts hash jobs kill local printf pwd read readonly return set shift test times trap true type ulimit
	umask unalias unset wait if then else elif fi case esac for while until do done in ! { } function select time`)

// shellProgram returns the program a shell command line runs first, when
// it is a plain word that is neither a builtin nor a keyword; "" when it
// cannot tell (assignments, quoting, expansions, redirections...).
func shellProgram(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return ""
	}
	w := strings.TrimRight(f[0], ";&|")
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/+", r)) {
			return ""
		}
	}
	for _, b := range shellWords {
		if w == b {
			return ""
		}
	}
	return w
}

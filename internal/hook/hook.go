// Package hook runs a user's command for each change tahoe-watch
// reports, the way watchexec does: changes are debounced, the command
// never runs concurrently with itself, and a change that arrives while it
// runs is handled by a policy (queue, do-nothing, restart or signal).
//
// The command gets the event in TAHOE_WATCH_* environment variables and,
// optionally, the new contents on its standard input. Its output passes
// through; its exit status is logged.
package hook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// Policy says what to do with a change that arrives while the command
// runs.
type Policy string

// The policies.
const (
	Queue     Policy = "queue"      // run again when it finishes, for every change that came meanwhile
	DoNothing Policy = "do-nothing" // drop the change
	Restart   Policy = "restart"    // stop it (SIGTERM, then SIGKILL) and run with the new change
	Signal    Policy = "signal"     // send it Options.Signal and drop the change
)

// ParsePolicy parses an --on-busy value.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case Queue, DoNothing, Restart, Signal:
		return p, nil
	}
	return "", errkind.E("hook.ParsePolicy", errkind.Usage, "--on-busy %q: want queue, do-nothing, restart or signal", s)
}

// Defaults of Options.
const (
	DefaultDebounce = 100 * time.Millisecond
	// KillGrace is how long a stopped command has between SIGTERM and
	// SIGKILL.
	KillGrace = time.Second
)

// Options configure a Runner.
type Options struct {
	// Argv is the command and its arguments; Shell(cmd) makes the argv
	// of a shell command line.
	Argv     []string
	Stdin    bool          // pipe each change's contents to the command
	Debounce time.Duration // quiet time before running; 0 means DefaultDebounce, <0 none
	OnBusy   Policy        // default Queue
	Signal   syscall.Signal
	// Timeout stops a command running longer (SIGTERM, then SIGKILL); 0
	// means none.
	Timeout        time.Duration
	Stdout, Stderr io.Writer // default os.Stdout, os.Stderr
	Logger         *slog.Logger
}

// Shell returns the argv that runs cmd with sh -c.
func Shell(cmd string) []string { return []string{"sh", "-c", cmd} }

// Runner runs the command for events it receives.
type Runner struct {
	o   Options
	log *slog.Logger

	mu   sync.Mutex
	last int // exit status of the last run that finished
}

// New checks o and returns a Runner.
//
// A command that is not found on $PATH is a *StatusError of status 127 at
// once; so is a Shell command line whose first word is a plain program
// name (not a builtin, keyword, assignment or expansion) not on $PATH.
func New(o Options) (*Runner, error) {
	if len(o.Argv) == 0 {
		return nil, errkind.E("hook.New", errkind.Usage, "no command to run")
	}
	if _, err := exec.LookPath(o.Argv[0]); err != nil {
		return nil, &StatusError{Status: statusOf(err), Err: err}
	}
	if len(o.Argv) == 3 && o.Argv[0] == "sh" && o.Argv[1] == "-c" {
		if prog := shellProgram(o.Argv[2]); prog != "" {
			if _, err := exec.LookPath(prog); err != nil {
				return nil, &StatusError{Status: statusOf(err), Err: err}
			}
		}
	}
	if o.Debounce == 0 {
		o.Debounce = DefaultDebounce
	}
	if o.OnBusy == "" {
		o.OnBusy = Queue
	}
	if o.Signal == 0 {
		o.Signal = syscall.SIGTERM
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Runner{o: o, log: o.Logger}, nil
}

// Run runs the command for the events from in until ctx is done (then a
// running command is stopped) or in is closed (then the pending change,
// if any, is run and waited for). Only changes run the command.
func (r *Runner) Run(ctx context.Context, in <-chan events.Event) error {
	var (
		pending  []events.Event // the changes the next run is for, oldest first
		debounce <-chan time.Time
		cur      *proc
	)
	for {
		var done <-chan struct{}
		if cur != nil {
			done = cur.done
		}
		select {
		case <-ctx.Done():
			if cur != nil {
				cur.stop()
				<-cur.done
			}
			return nil
		case e, ok := <-in:
			if !ok {
				in = nil
				if debounce != nil {
					debounce = after(0)
				}
				if pending == nil && cur == nil {
					return nil
				}
				continue
			}
			if !e.Type.IsChange() {
				continue
			}
			pending = queue(pending, e)
			debounce = after(r.o.Debounce)
		case <-debounce:
			debounce = nil
			if cur == nil {
				cur, pending = r.start(ctx, pending), nil
				continue
			}
			pending = r.busy(cur, pending)
		case <-done:
			r.report(cur)
			cur = nil
			if pending != nil && debounce == nil {
				cur, pending = r.start(ctx, pending), nil
			}
			if in == nil && cur == nil && pending == nil {
				return nil
			}
		}
	}
}

// queue adds e to the changes of the next run. Only the newest's
// contents are piped to the command, so those of the older ones are let
// go: a slow command under a fast writer would otherwise hold every
// version of the file in memory.
func queue(pending []events.Event, e events.Event) []events.Event {
	if n := len(pending); n > 0 {
		pending[n-1].Contents = nil
	}
	return append(pending, e)
}

// after is time.After, with d <= 0 firing at once.
func after(d time.Duration) <-chan time.Time {
	return time.After(max(d, 0))
}

// busy applies the policy to the changes arriving while cur runs and
// returns what stays pending.
func (r *Runner) busy(cur *proc, batch []events.Event) []events.Event {
	e := batch[len(batch)-1]
	switch r.o.OnBusy {
	case DoNothing:
		r.log.Info("hook busy; change dropped", "path", e.Path, "seqnum", e.Seqnum, "changes", len(batch))
		return nil
	case Restart:
		r.log.Info("hook busy; restarting it", "pid", cur.pid())
		cur.stop()
		return batch
	case Signal:
		r.log.Info("hook busy; signalling it", "pid", cur.pid(), "signal", r.o.Signal.String())
		cur.signal(r.o.Signal)
		return nil
	}
	return batch // Queue: every change waits for the next run
}

// Env returns the TAHOE_WATCH_* variables for e.
func Env(e events.Event) []string {
	return []string{
		"TAHOE_WATCH_EVENT=" + string(e.Type),
		"TAHOE_WATCH_CAP=" + e.Cap,
		"TAHOE_WATCH_PATH=" + e.Path,
		"TAHOE_WATCH_SEQNUM=" + strconv.FormatUint(e.Seqnum, 10),
		"TAHOE_WATCH_PREVIOUS_SEQNUM=" + strconv.FormatUint(e.PreviousSeqnum, 10),
		"TAHOE_WATCH_ROOTHASH=" + e.RootHash,
		"TAHOE_WATCH_SIZE=" + strconv.FormatInt(e.Size, 10),
	}
}

// report logs how a command ended and keeps its status.
func (r *Runner) report(p *proc) {
	d := time.Since(p.started).Round(time.Millisecond)
	r.mu.Lock()
	r.last = statusOf(p.err)
	if p.timedOut {
		r.last = StatusTimeout
	}
	r.mu.Unlock()
	var xerr *exec.ExitError
	switch {
	case p.err == nil:
		r.log.Info("hook exited", "status", 0, "duration", d)
	case p.timedOut:
		r.log.Warn("hook timed out and was stopped", "timeout", r.o.Timeout, "duration", d)
	case errors.As(p.err, &xerr):
		r.log.Warn("hook failed", "status", statusOf(p.err), "state", xerr.String(), "duration", d)
	default:
		r.log.Warn("hook could not run", "err", p.err)
	}
}

// start starts the command for the changes of batch; the last is the
// newest.
func (r *Runner) start(ctx context.Context, batch []events.Event) *proc {
	e := &batch[len(batch)-1]
	cmd := exec.Command(r.o.Argv[0], r.o.Argv[1:]...)
	cmd.Env = append(os.Environ(), BatchEnv(batch)...)
	cmd.Stdout, cmd.Stderr = r.o.Stdout, r.o.Stderr
	if r.o.Stdin {
		cmd.Stdin = bytes.NewReader(e.Contents)
	}
	cmd.WaitDelay = KillGrace
	setProcessGroup(cmd)
	p := &proc{cmd: cmd, done: make(chan struct{}), started: time.Now(), stopping: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		p.err = err
		close(p.done)
		return p
	}
	go p.wait(ctx, r.o.Timeout)
	return p
}

package hook

import (
	"context"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one run of the command.
type proc struct {
	cmd      *exec.Cmd
	started  time.Time
	done     chan struct{} // closed when the command has exited
	err      error         // from Wait; read after done
	timedOut bool          // read after done

	once     sync.Once
	stopping chan struct{} // closed by stop
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// wait waits for the command, stopping it on timeout or when asked.
func (p *proc) wait(ctx context.Context, timeout time.Duration) {
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	var deadline <-chan time.Time
	if timeout > 0 {
		deadline = time.After(timeout)
	}
	var kill <-chan time.Time
	stopping := p.stopping
	for {
		select {
		case err := <-exited:
			p.err = err
			close(p.done)
			return
		case <-deadline:
			deadline = nil
			p.timedOut = true
			p.stop()
		case <-stopping:
			stopping = nil
			p.signal(syscall.SIGTERM)
			kill = time.After(KillGrace)
		case <-kill:
			kill = nil
			p.signal(syscall.SIGKILL)
		}
	}
}

// stop asks the command (and its process group) to end: SIGTERM, then
// SIGKILL after KillGrace.
func (p *proc) stop() {
	p.once.Do(func() { close(p.stopping) })
}

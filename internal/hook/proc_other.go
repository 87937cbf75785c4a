//go:build !unix

package hook

import (
	"os"
	"os/exec"
	"syscall"
)

func setProcessGroup(*exec.Cmd) {}

// signal kills the command: other systems have no process signals.
func (p *proc) signal(syscall.Signal) {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(os.Kill)
	}
}

//go:build unix

package hook

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in its own process group, so that
// signals reach the shell's children too.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signal sends sig to the command's process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		p.cmd.Process.Signal(sig)
	}
}

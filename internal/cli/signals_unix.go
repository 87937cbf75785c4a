//go:build !windows

package cli

import "syscall"

// signals are the names --signal accepts for the hook's signal policy.
var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "KILL": syscall.SIGKILL, "QUIT": syscall.SIGQUIT}

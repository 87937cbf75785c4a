//go:build windows

package cli

import "syscall"

// signals are the names --signal accepts on Windows, which has no SIGUSR1/2.
var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
	"KILL": syscall.SIGKILL, "QUIT": syscall.SIGQUIT}

//go:build unix

package watchserver

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used, which
// unlike wall time hardly depends on what else the machine runs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

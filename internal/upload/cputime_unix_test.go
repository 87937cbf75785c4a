//go:build unix

package upload_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the test process has used:
// in the benchmarks, the client's and the in-process servers' together.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

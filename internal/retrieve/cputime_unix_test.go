//go:build unix

package retrieve

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used: the
// client and, in benchmarks, the in-process servers. On a shared machine
// it varies much less with load than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

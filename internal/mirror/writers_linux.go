package mirror

import (
	"os"
	"syscall"
)

// openForWriting reports whether some process has f's file open for
// writing, as far as the kernel tells: Linux refuses a read lease
// (EAGAIN) while the file is open for writing anywhere. The lease, when
// granted, is given back at once. Any other answer (not the file's
// owner, leases disabled, a file system without them) tells nothing,
// and the quiet period alone decides, as on other systems.
func openForWriting(f *os.File) bool {
	sc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	busy := false
	sc.Control(func(fd uintptr) {
		_, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETLEASE, syscall.F_RDLCK)
		switch e {
		case 0:
			syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETLEASE, syscall.F_UNLCK)
		case syscall.EAGAIN:
			busy = true
		}
	})
	return busy
}

//go:build linux || darwin || freebsd || netbsd || openbsd

package storage

import "syscall"

// freeSpace is the space the file system holding the shares has free
// for unprivileged use.
func (b *Backend) freeSpace() (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.shares, &st); err != nil {
		return 0, true // cannot tell: offer nothing rather than overfill
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}

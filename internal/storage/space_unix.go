//go:build linux || darwin || freebsd || netbsd || openbsd

package storage

import "syscall"

// AvailableSpace is the space the file system holding the shares has
// free for unprivileged use.
func (b *Backend) AvailableSpace() uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.shares, &st); err != nil {
		return 0
	}
	return uint64(st.Bavail) * uint64(st.Bsize)
}

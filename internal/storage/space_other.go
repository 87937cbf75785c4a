//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package storage

// freeSpace is unknown on this platform; like Tahoe, space is unlimited.
func (b *Backend) freeSpace() (uint64, bool) { return 0, false }

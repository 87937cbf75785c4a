//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package storage

// AvailableSpace is unknown on this platform; like Tahoe, report 2^64-1.
func (b *Backend) AvailableSpace() uint64 { return 1<<64 - 1 }

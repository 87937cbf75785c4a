package storage

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing n bytes of f at off to
// disk without waiting for it (sync_file_range with WRITE only). An
// immutable share is fsynced once, when its last byte arrives; starting
// the writeback of each piece as it is written spreads the disk work over
// the upload, so that final fsync waits for the last piece only instead of
// the whole share. It is a hint: errors are ignored, the fsync reports them.
func startWriteback(f *os.File, off, n int64) {
	syscall.SyncFileRange(int(f.Fd()), off, n, 0x2 /* SYNC_FILE_RANGE_WRITE */)
}

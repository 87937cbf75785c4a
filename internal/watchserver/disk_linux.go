package watchserver

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"strconv"
	"sync"
	"syscall"
)

// On Linux a storage index's shares are read with the system calls
// themselves, fewest first: open the directory, list it, and open each
// share relative to it and read its prefix once; no *os.File, no path
// walked twice, no per-file finalizer. A subscribe of 10,000 caps is
// 10,000 of these.

// direntBufLen is the size of the buffer a directory is listed into; a
// storage index's directory holds a few entries (at most 256 shares and
// the storage server's journal), so one read lists it.
const direntBufLen = 8192

// atFDCWD is Linux's AT_FDCWD, which package syscall does not export.
const atFDCWD = -100

var direntPool = sync.Pool{New: func() any { return new([direntBufLen]byte) }}

// readDirShares reads the state of every mutable share in dir, a storage
// index's directory; none if it does not exist. A listing failure is an
// errListing.
func readDirShares(dir string) ([]ShareState, error) {
	dfd, err := openRetry(atFDCWD, dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC)
	if err == syscall.ENOENT {
		return nil, nil
	}
	if err != nil {
		return nil, errListing{&fs.PathError{Op: "open", Path: dir, Err: err}}
	}
	defer syscall.Close(dfd)
	ents, err := listShares(dfd)
	if err != nil {
		return nil, errListing{&fs.PathError{Op: "readdirent", Path: dir, Err: err}}
	}
	buf := prefixPool.Get().(*[sharePrefixLen]byte)
	defer prefixPool.Put(buf)
	var out []ShareState
	for _, e := range ents {
		st, ok, err := readShareAt(dfd, e, buf[:])
		if err == syscall.ENOENT || err == syscall.ELOOP || err == errNotRegular {
			continue // deleted or replaced between listing and reading
		}
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, st)
		}
	}
	return out, nil
}

// shareEntry is a share file found by listing a directory.
type shareEntry struct {
	shnum   int
	regular bool // the listing said it is a regular file (else it did not say)
}

// errNotRegular: the share's name is not a regular file.
var errNotRegular = errors.New("not a regular file")

// readShareAt reads share e of the directory open as dfd.
func readShareAt(dfd int, e shareEntry, buf []byte) (ShareState, bool, error) {
	// O_NOFOLLOW and O_NONBLOCK: a share replaced by a link or a FIFO
	// since the listing is refused (ELOOP), never followed or waited on.
	fd, err := openRetry(dfd, strconv.Itoa(e.shnum), syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK)
	if err != nil {
		return ShareState{}, false, err
	}
	defer syscall.Close(fd)
	if !e.regular {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return ShareState{}, false, err
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return ShareState{}, false, errNotRegular
		}
	}
	return readShare(fdReader(fd), e.shnum, buf)
}

// listShares returns the share files in the directory open as dfd, in
// directory order: those the listing says are regular files, or does not
// say what they are.
func listShares(dfd int) ([]shareEntry, error) {
	buf := direntPool.Get().(*[direntBufLen]byte)
	defer direntPool.Put(buf)
	var ents []shareEntry
	for {
		n, err := syscall.Getdents(dfd, buf[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return ents, nil
		}
		ents = appendShares(ents, buf[:n])
	}
}

// appendShares appends the share files among the linux_dirent64 records
// in b.
func appendShares(ents []shareEntry, b []byte) []shareEntry {
	const nameOff = 19 // d_ino u64, d_off s64, d_reclen u16, d_type u8
	for len(b) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen < nameOff || reclen > len(b) {
			return ents // cannot happen with a sane kernel; stop, do not misparse
		}
		rec, typ := b[nameOff:reclen], b[18]
		b = b[reclen:]
		name := rec
		for i, c := range rec {
			if c == 0 {
				name = rec[:i]
				break
			}
		}
		n, ok := shareNumber(name)
		if ok && (typ == syscall.DT_REG || typ == syscall.DT_UNKNOWN) {
			ents = append(ents, shareEntry{n, typ == syscall.DT_REG})
		}
	}
	return ents
}

func openRetry(dfd int, path string, flags int) (int, error) {
	for {
		fd, err := syscall.Openat(dfd, path, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// fdReader reads a file descriptor at offsets.
type fdReader int

// ReadAt implements io.ReaderAt.
func (f fdReader) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Pread(int(f), p[done:], off+int64(done))
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return done, err
		case n == 0:
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

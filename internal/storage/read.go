package storage

import (
	"io"
	"os"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// ShareReader reads the data of one share. An immutable share never
// changes once complete. A mutable share is written in place (through a
// journal, see wal.go), as Tahoe's server writes it: a read that overlaps
// a read-test-write may see part of each version, which clients detect
// by the share's hashes and signature, as they do against Tahoe.
type ShareReader struct {
	*io.SectionReader // the share data, Size() bytes
	f                 *os.File
}

// Close releases the file.
func (r *ShareReader) Close() error { return r.f.Close() }

// OpenShare opens share shnum of a storage index for reading its data.
// The share must be of the given kind; otherwise, or if it does not
// exist, the error is of kind errkind.NotFound.
func (b *Backend) OpenShare(si []byte, shnum int, kind container.Kind) (*ShareReader, error) {
	const op = "storage.OpenShare"
	if err := checkArgs(si); err != nil {
		return nil, err
	}
	f, err := os.Open(b.sharePath(si, shnum))
	if os.IsNotExist(err) {
		return nil, errkind.E(op, errkind.NotFound, "no share %d", shnum)
	}
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	off, n, err := dataSection(f, kind)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &ShareReader{SectionReader: io.NewSectionReader(f, off, n), f: f}, nil
}

// dataSection locates the share data inside a share file.
func dataSection(f *os.File, kind container.Kind) (int64, int64, error) {
	const op = "storage.OpenShare"
	h := make([]byte, container.MutableHeaderSize)
	n, _ := f.ReadAt(h, 0)
	if container.Detect(h[:n]) != kind {
		return 0, 0, errkind.E(op, errkind.NotFound, "share is not %s", kind)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, errkind.E(op, errkind.Other, err)
	}
	if kind == container.MutableKind {
		mh, err := container.ParseMutableHeader(h[:n])
		if err != nil {
			return 0, 0, err
		}
		if uint64(st.Size()) < mh.ExtraLeaseOffset {
			return 0, 0, errkind.E(op, errkind.Corrupt, "mutable share shorter than its header says")
		}
		return container.MutableDataOffset, int64(mh.DataLength), nil
	}
	l, err := container.ParseImmutableLayout(h[:n], st.Size())
	if err != nil {
		return 0, 0, err
	}
	return container.ImmutableHeaderSize, l.DataLength, nil
}

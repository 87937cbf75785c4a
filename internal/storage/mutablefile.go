package storage

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// Offsets inside a mutable container's header (container.MutableHeaderSize
// bytes, then the four lease slots up to container.MutableDataOffset).
const (
	dataLengthAt  = 84
	extraOffsetAt = 92
)

// mutableFile is a mutable share on disk, read without its data: the
// header and leases are held in memory (as a container with no data),
// the data is read from the file when a vector asks for it. Writes are
// worked out as edits of the file in place (see edits).
type mutableFile struct {
	f    *os.File // nil for a share that does not exist yet
	meta *container.Mutable
	// dataLen is the length of the share data, capacity the room for it
	// before the extra leases (the file's ExtraLeaseOffset minus the data
	// offset).
	dataLen, capacity uint64
	fresh             bool  // the share does not exist yet
	size              int64 // the file's size; 0 when fresh
}

// openMutable reads the header and leases of the share at path.
func openMutable(path string) (*mutableFile, error) {
	const op = "storage.openMutable"
	f, err := os.Open(path)
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	m, err := readMutableMeta(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	m.f = f
	return m, nil
}

// readMutableMeta parses what a mutableFile keeps in memory: the container
// is rebuilt without its data, so its own parser validates the leases.
func readMutableMeta(f *os.File) (*mutableFile, error) {
	const op = "storage.openMutable"
	st, err := f.Stat()
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	head := make([]byte, container.MutableDataOffset)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, errkind.E(op, errkind.Corrupt, "short mutable container: %v", err)
	}
	h, err := container.ParseMutableHeader(head)
	if err != nil {
		return nil, err
	}
	size := uint64(st.Size())
	if h.ExtraLeaseOffset > size || size-h.ExtraLeaseOffset < 4 || size-h.ExtraLeaseOffset > 1<<26 {
		return nil, errkind.E(op, errkind.Corrupt, "extra-lease offset %d does not fit a file of %d bytes", h.ExtraLeaseOffset, size)
	}
	tail := make([]byte, size-h.ExtraLeaseOffset)
	if _, err := f.ReadAt(tail, int64(h.ExtraLeaseOffset)); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	synth := append(bytes.Clone(head), tail...)
	binary.BigEndian.PutUint64(synth[dataLengthAt:], 0)
	binary.BigEndian.PutUint64(synth[extraOffsetAt:], container.MutableDataOffset)
	meta, err := container.ParseMutable(synth)
	if err != nil {
		return nil, err
	}
	return &mutableFile{meta: meta, dataLen: h.DataLength, capacity: h.ExtraLeaseOffset - container.MutableDataOffset, size: int64(size)}, nil
}

// newMutableFile is a share about to be created.
func newMutableFile(nodeID [20]byte, we [32]byte) *mutableFile {
	return &mutableFile{meta: container.NewMutable(container.NewestMutableVersion, nodeID, we), fresh: true}
}

func (m *mutableFile) close() {
	if m.f != nil {
		m.f.Close()
	}
}

// readAt returns up to size bytes of share data at offset, cut at the end
// of the data as Tahoe does.
func (m *mutableFile) readAt(offset, size uint64) ([]byte, error) {
	if offset >= m.dataLen || m.f == nil {
		return []byte{}, nil
	}
	n := min(size, m.dataLen-offset)
	b := make([]byte, n)
	if _, err := m.f.ReadAt(b, int64(container.MutableDataOffset+offset)); err != nil && err != io.EOF {
		return nil, errkind.E("storage.ReadTestWrite", errkind.Other, err)
	}
	return b, nil
}

// matches reports whether the share data at offset equals p (cut at the
// end of the data, as a test vector is).
func (m *mutableFile) matches(offset uint64, size uint64, p []byte) (bool, error) {
	got, err := m.readAt(offset, size)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, p), nil
}

// edits works out the file edits that apply v to the share as Tahoe's
// server applies it to the container in memory (container.Mutable.Write
// and Truncate: growing moves the extra leases behind the data, a gap
// after the old end of data reads as zeros) and adds lease. It reports
// whether the share data changed.
func (m *mutableFile) edits(shnum int, v TestWrite, lease container.LeaseRequest) ([]walRecord, bool, error) {
	const op = "storage.ReadTestWrite"
	var recs []walRecord
	dl, capacity := m.dataLen, m.capacity
	changed := m.fresh
	for _, w := range v.Write {
		end := w.Offset + uint64(len(w.Data))
		if end < w.Offset || end > container.MaxMutableDataSize {
			return nil, false, errkind.E(op, errkind.Invalid, "write to %d+%d exceeds the maximum mutable share size", w.Offset, len(w.Data))
		}
		if !changed {
			same, err := m.matches(w.Offset, uint64(len(w.Data)), w.Data)
			if err != nil {
				return nil, false, err
			}
			changed = !same
		}
		if end >= dl {
			capacity = max(capacity, end)
			if w.Offset > dl {
				recs = append(recs, walRecord{op: walZero, shnum: shnum, offset: container.MutableDataOffset + dl, length: w.Offset - dl})
			}
			dl = end
		}
		if len(w.Data) > 0 {
			recs = append(recs, walRecord{op: walWrite, shnum: shnum, offset: container.MutableDataOffset + w.Offset, data: w.Data})
		}
	}
	if v.NewLength != nil && *v.NewLength < dl {
		dl = *v.NewLength
	}
	changed = changed || dl != m.dataLen
	m.meta.AddOrRenewLease(lease)
	meta := m.meta.Bytes() // header and slots, then the extra-lease region
	binary.BigEndian.PutUint64(meta[dataLengthAt:], dl)
	binary.BigEndian.PutUint64(meta[extraOffsetAt:], container.MutableDataOffset+capacity)
	tail := meta[container.MutableDataOffset:]
	recs = append(recs,
		walRecord{op: walWrite, shnum: shnum, offset: 0, data: meta[:container.MutableDataOffset]},
		walRecord{op: walWrite, shnum: shnum, offset: container.MutableDataOffset + capacity, data: tail},
		walRecord{op: walSize, shnum: shnum, offset: container.MutableDataOffset + capacity + uint64(len(tail))})
	return recs, changed, nil
}

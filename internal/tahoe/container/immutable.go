package container

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// ImmutableHeaderSize is the size of an immutable share file's header:
// version, a legacy data-length field, and the lease count.
const ImmutableHeaderSize = 12

// NewestImmutableVersion is the share file version Tahoe 1.20 creates
// (version 2 stores hashed lease secrets).
const NewestImmutableVersion = 2

// Immutable is a whole immutable share file held in memory. The data
// length is implied: the file size less the header and the leases.
type Immutable struct {
	Version     int    // 1 or 2
	LengthField uint32 // legacy header field: min(2^32-1, allocated size); unused by readers
	Data        []byte
	Leases      []Lease
}

// ImmutableLayout locates the share data in an immutable share file.
type ImmutableLayout struct {
	Version    int
	NumLeases  uint32
	DataLength int64 // data starts at ImmutableHeaderSize
}

// ParseImmutableLayout parses an immutable share file's header given the
// file's size.
func ParseImmutableLayout(header []byte, fileSize int64) (ImmutableLayout, error) {
	const op = "container.ParseImmutableLayout"
	var l ImmutableLayout
	if len(header) < ImmutableHeaderSize || fileSize < ImmutableHeaderSize {
		return l, errkind.E(op, errkind.Corrupt, "immutable share file shorter than its header")
	}
	v := binary.BigEndian.Uint32(header)
	if v != 1 && v != 2 {
		return l, errkind.E(op, errkind.Corrupt, "unknown immutable share version %d", v)
	}
	l.Version = int(v)
	l.NumLeases = binary.BigEndian.Uint32(header[8:])
	leases := int64(l.NumLeases) * ImmutableLeaseSize
	if fileSize-ImmutableHeaderSize < leases {
		return l, errkind.E(op, errkind.Corrupt, "%d leases do not fit in a %d-byte file", l.NumLeases, fileSize)
	}
	l.DataLength = fileSize - ImmutableHeaderSize - leases
	return l, nil
}

// ReadImmutableLayout reads the header of an immutable share file of the
// given size.
func ReadImmutableLayout(r io.ReaderAt, fileSize int64) (ImmutableLayout, error) {
	b := make([]byte, ImmutableHeaderSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return ImmutableLayout{}, errkind.E("container.ReadImmutableLayout", errkind.Corrupt, "short immutable header: %v", err)
	}
	return ParseImmutableLayout(b, fileSize)
}

// ParseImmutable parses and validates a whole immutable share file.
func ParseImmutable(b []byte) (*Immutable, error) {
	l, err := ParseImmutableLayout(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	im := &Immutable{Version: l.Version, LengthField: binary.BigEndian.Uint32(b[4:])}
	end := ImmutableHeaderSize + l.DataLength
	im.Data = bytes.Clone(b[ImmutableHeaderSize:end])
	for i := int64(0); i < int64(l.NumLeases); i++ {
		im.Leases = append(im.Leases, parseImmutableLease(b[end+i*ImmutableLeaseSize:]))
	}
	return im, nil
}

// ImmutableHeader returns the header Tahoe writes when it starts a share
// of allocatedSize bytes (no leases yet).
func ImmutableHeader(version int, allocatedSize uint64) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(version))
	b = binary.BigEndian.AppendUint32(b, uint32(min(allocatedSize, math.MaxUint32)))
	return binary.BigEndian.AppendUint32(b, 0)
}

// Bytes serialises the share file exactly as Tahoe lays it out.
func (im *Immutable) Bytes() []byte {
	b := make([]byte, 0, ImmutableHeaderSize+len(im.Data)+len(im.Leases)*ImmutableLeaseSize)
	b = binary.BigEndian.AppendUint32(b, uint32(im.Version))
	b = binary.BigEndian.AppendUint32(b, im.LengthField)
	b = binary.BigEndian.AppendUint32(b, uint32(len(im.Leases)))
	b = append(b, im.Data...)
	for _, l := range im.Leases {
		b = l.appendImmutable(b)
	}
	return b
}

// ReadAt returns up to size bytes of share data at offset, cut at the end.
func (im *Immutable) ReadAt(offset, size uint64) []byte { return clip(im.Data, offset, size) }

// AddOrRenewLease renews the lease whose renew secret matches r, or
// appends a new one, as Tahoe does.
func (im *Immutable) AddOrRenewLease(r LeaseRequest) {
	if r.renewIn(im.Version, im.Leases) {
		return
	}
	im.Leases = append(im.Leases, r.record(im.Version))
}

// RenewLease moves the expiration of the lease matching renewSecret to
// expiration (never backwards). It reports whether such a lease exists.
func (im *Immutable) RenewLease(renewSecret []byte, expiration uint32) bool {
	r := LeaseRequest{RenewSecret: renewSecret, Expiration: expiration}
	return r.renewIn(im.Version, im.Leases)
}

// ImmutableLeaseRecord serialises a new lease for appending to a share
// file of the given version.
func ImmutableLeaseRecord(version int, r LeaseRequest) []byte {
	return r.record(version).appendImmutable(nil)
}

package container

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"io"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Layout of a mutable container.
const (
	MutableHeaderSize  = 100                                    // magic, node id, write enabler, data length, extra-lease offset
	MutableLeaseSlots  = 4                                      // lease slots right after the header
	MutableDataOffset  = MutableHeaderSize + 4*MutableLeaseSize // 468: where share data starts
	MaxMutableDataSize = 69105 * 1000                           // Tahoe's MAX_MUTABLE_SHARE_SIZE
	magicLen           = 32                                     // length of the magic string
	dataLengthOffset   = magicLen + 20 + 32                     // 84
	extraOffsetOffset  = dataLengthOffset + 8                   // 92
	maxExtraLeases     = (1 << 31) / MutableLeaseSize           // sanity bound on the extra lease count
)

// NewestMutableVersion is the container version Tahoe 1.20 creates.
const NewestMutableVersion = 2

// MutableMagic returns the 32-byte magic that starts a mutable container
// of the given version (1 or 2).
func MutableMagic(version int) []byte {
	human := []byte("Tahoe mutable container v" + string(rune('0'+version)) + "\n")
	if version == 1 {
		return append(human, 0x75, 0x09, 0x44, 0x03, 0x8e)
	}
	return append(human, hashes.Tagged("allmydata_mutable_container_header", human, 5)...)
}

var mutableMagics = map[string]int{string(MutableMagic(1)): 1, string(MutableMagic(2)): 2}

// MutableVersion returns the container version whose magic starts header,
// or 0 if header is not a mutable container.
func MutableVersion(header []byte) int {
	if len(header) < magicLen {
		return 0
	}
	return mutableMagics[string(header[:magicLen])]
}

// Mutable is a whole mutable container held in memory.
type Mutable struct {
	Version      int      // container version, 1 or 2
	NodeID       [20]byte // server that recorded the write enabler
	WriteEnabler [32]byte
	Slots        [MutableLeaseSlots]Lease // the four fixed lease slots
	Extra        []Lease                  // leases after the data

	dataLength uint64
	body       []byte // everything between the slots and the extra leases: data, then slack
	trailer    []byte // bytes after the extra leases, kept for exact round trips
}

// NewMutable returns an empty container, as Tahoe creates one for a new slot.
func NewMutable(version int, nodeID [20]byte, writeEnabler [32]byte) *Mutable {
	return &Mutable{Version: version, NodeID: nodeID, WriteEnabler: writeEnabler}
}

// MutableHeader is the fixed part of a mutable container.
type MutableHeader struct {
	Version          int
	NodeID           [20]byte
	WriteEnabler     [32]byte
	DataLength       uint64
	ExtraLeaseOffset uint64
}

// ParseMutableHeader parses the first MutableHeaderSize bytes of a container.
func ParseMutableHeader(b []byte) (MutableHeader, error) {
	const op = "container.ParseMutableHeader"
	var h MutableHeader
	if len(b) < MutableHeaderSize {
		return h, errkind.E(op, errkind.Corrupt, "mutable header is %d bytes, want %d", len(b), MutableHeaderSize)
	}
	if h.Version = MutableVersion(b); h.Version == 0 {
		return h, errkind.E(op, errkind.Corrupt, "not a Tahoe mutable container (bad magic)")
	}
	copy(h.NodeID[:], b[magicLen:])
	copy(h.WriteEnabler[:], b[magicLen+20:])
	h.DataLength = binary.BigEndian.Uint64(b[dataLengthOffset:])
	h.ExtraLeaseOffset = binary.BigEndian.Uint64(b[extraOffsetOffset:])
	if h.ExtraLeaseOffset < MutableDataOffset || h.ExtraLeaseOffset-MutableDataOffset < h.DataLength {
		return h, errkind.E(op, errkind.Corrupt, "data length %d does not fit before extra leases at %d", h.DataLength, h.ExtraLeaseOffset)
	}
	return h, nil
}

// ReadMutableHeader reads and parses the header of a container file.
func ReadMutableHeader(r io.ReaderAt) (MutableHeader, error) {
	b := make([]byte, MutableHeaderSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return MutableHeader{}, errkind.E("container.ReadMutableHeader", errkind.Corrupt, "short mutable header: %v", err)
	}
	return ParseMutableHeader(b)
}

// ParseMutable parses and validates a whole mutable container file.
func ParseMutable(b []byte) (*Mutable, error) {
	const op = "container.ParseMutable"
	h, err := ParseMutableHeader(b)
	if err != nil {
		return nil, err
	}
	size := uint64(len(b))
	if h.ExtraLeaseOffset > size || size-h.ExtraLeaseOffset < 4 {
		return nil, errkind.E(op, errkind.Corrupt, "extra-lease offset %d beyond file of %d bytes", h.ExtraLeaseOffset, size)
	}
	m := &Mutable{Version: h.Version, NodeID: h.NodeID, WriteEnabler: h.WriteEnabler, dataLength: h.DataLength}
	for i := range m.Slots {
		m.Slots[i] = parseMutableLease(b[MutableHeaderSize+i*MutableLeaseSize:])
	}
	m.body = bytes.Clone(b[MutableDataOffset:h.ExtraLeaseOffset])
	n := uint64(binary.BigEndian.Uint32(b[h.ExtraLeaseOffset:]))
	rest := b[h.ExtraLeaseOffset+4:]
	if n > maxExtraLeases || uint64(len(rest)) < n*MutableLeaseSize {
		return nil, errkind.E(op, errkind.Corrupt, "%d extra leases do not fit in %d bytes", n, len(rest))
	}
	for i := uint64(0); i < n; i++ {
		m.Extra = append(m.Extra, parseMutableLease(rest[i*MutableLeaseSize:]))
	}
	if t := rest[n*MutableLeaseSize:]; len(t) > 0 {
		m.trailer = bytes.Clone(t)
	}
	return m, nil
}

// Bytes serialises the container exactly as Tahoe lays it out on disk.
func (m *Mutable) Bytes() []byte {
	extraOff := uint64(MutableDataOffset + len(m.body))
	b := make([]byte, 0, int(extraOff)+4+len(m.Extra)*MutableLeaseSize+len(m.trailer))
	b = append(b, MutableMagic(m.Version)...)
	b = append(b, m.NodeID[:]...)
	b = append(b, m.WriteEnabler[:]...)
	b = binary.BigEndian.AppendUint64(b, m.dataLength)
	b = binary.BigEndian.AppendUint64(b, extraOff)
	for _, l := range m.Slots {
		b = l.appendMutable(b)
	}
	b = append(b, m.body...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Extra)))
	for _, l := range m.Extra {
		b = l.appendMutable(b)
	}
	return append(b, m.trailer...)
}

// DataLength is the length of the share data.
func (m *Mutable) DataLength() uint64 { return m.dataLength }

// Data returns the share data (not a copy).
func (m *Mutable) Data() []byte { return m.body[:m.dataLength] }

// ReadAt returns up to size bytes of share data at offset, cut at the end
// of the data as Tahoe does: a read starting past the end is empty.
func (m *Mutable) ReadAt(offset, size uint64) []byte {
	return clip(m.Data(), offset, size)
}

func clip(data []byte, offset, size uint64) []byte {
	n := uint64(len(data))
	if offset >= n {
		return []byte{}
	}
	end := n
	if size < n-offset {
		end = offset + size
	}
	return data[offset:end]
}

// CheckWriteEnabler reports whether we matches the recorded write enabler,
// in constant time.
func (m *Mutable) CheckWriteEnabler(we []byte) bool {
	return subtle.ConstantTimeCompare(m.WriteEnabler[:], we) == 1
}

// Write applies one write vector as Tahoe's storage server does: the
// container grows (moving the extra leases) when the data would run into
// them, and a gap between the old end of data and offset is zero-filled.
func (m *Mutable) Write(offset uint64, data []byte) error {
	const op = "container.Mutable.Write"
	end := offset + uint64(len(data))
	if end < offset || end > MaxMutableDataSize {
		return errkind.E(op, errkind.Invalid, "write to %d+%d exceeds the maximum mutable share size", offset, len(data))
	}
	if end >= m.dataLength {
		if end > uint64(len(m.body)) {
			m.body = append(m.body, make([]byte, end-uint64(len(m.body)))...)
		}
		if offset > m.dataLength {
			clear(m.body[m.dataLength:offset])
		}
		m.dataLength = end
	}
	copy(m.body[offset:], data)
	return nil
}

// Truncate applies a new_length: Tahoe 1.20 only ever shrinks the data
// (a longer new_length is ignored) and keeps the container's capacity.
func (m *Mutable) Truncate(newLength uint64) {
	if newLength < m.dataLength {
		m.dataLength = newLength
	}
}

// Leases returns the non-empty leases, fixed slots first.
func (m *Mutable) Leases() []Lease {
	var ls []Lease
	for _, l := range m.Slots {
		if !l.Empty() {
			ls = append(ls, l)
		}
	}
	for _, l := range m.Extra {
		if !l.Empty() {
			ls = append(ls, l)
		}
	}
	return ls
}

// AddOrRenewLease renews the lease whose renew secret matches r, or else
// puts a new lease in the first empty slot (appending an extra lease when
// the four slots are full), as Tahoe does.
func (m *Mutable) AddOrRenewLease(r LeaseRequest) {
	if r.renewIn(m.Version, m.Slots[:]) || r.renewIn(m.Version, m.Extra) {
		return
	}
	rec := r.record(m.Version)
	for i := range m.Slots {
		if m.Slots[i].Empty() {
			m.Slots[i] = rec
			return
		}
	}
	for i := range m.Extra {
		if m.Extra[i].Empty() {
			m.Extra[i] = rec
			return
		}
	}
	m.Extra = append(m.Extra, rec)
}

// RenewLease moves the expiration of the lease matching renewSecret to
// expiration (never backwards). It reports whether such a lease exists.
func (m *Mutable) RenewLease(renewSecret []byte, expiration uint32) bool {
	r := LeaseRequest{RenewSecret: renewSecret, Expiration: expiration}
	return r.renewIn(m.Version, m.Slots[:]) || r.renewIn(m.Version, m.Extra)
}

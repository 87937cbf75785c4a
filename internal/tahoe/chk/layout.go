package chk

import (
	"encoding/binary"
	"math"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Share layout versions. Version 1 has 4-byte offsets and is what Tahoe
// writes unless a size does not fit; version 2 has 8-byte offsets.
const (
	headerSizeV1 = 0x24
	headerSizeV2 = 0x44

	// MaxHeaderSize is the most bytes ParseHeader needs: read this much
	// (or the whole share if shorter) from the start of a share.
	MaxHeaderSize = headerSizeV2

	// shareHashEntry is one stored share hash: 2-byte node index + hash.
	shareHashEntry = 2 + hashes.HashLen
)

// Header is the offset table at the start of a CHK share (the bucket data
// a storage server returns, without its on-disk container header). Offsets
// are from the start of the share.
type Header struct {
	Version   int    // 1 or 2
	BlockSize uint64 // informational; readers derive it from the UEB
	DataSize  uint64 // informational, as BlockSize

	Data              uint64 // start of the blocks
	PlaintextHashTree uint64 // unused region, zero-filled by writers
	CrypttextHashTree uint64
	BlockHashes       uint64
	ShareHashes       uint64
	URIExtension      uint64 // the UEB length field, then the UEB
}

// HeaderLen is the size of the header in bytes.
func (h *Header) HeaderLen() int {
	if h.Version == 2 {
		return headerSizeV2
	}
	return headerSizeV1
}

// FieldLen is the size of the offsets and of the UEB length field.
func (h *Header) FieldLen() int {
	if h.Version == 2 {
		return 8
	}
	return 4
}

// ParseHeader parses the offset table from the first bytes of a share
// (MaxHeaderSize bytes suffice). It checks that the regions are in order
// and that the hash regions have whole entries.
func ParseHeader(b []byte) (*Header, error) {
	const op = "chk.ParseHeader"
	if len(b) < 4 {
		return nil, errkind.E(op, errkind.Corrupt, "share of %d bytes has no header", len(b))
	}
	h := &Header{Version: int(binary.BigEndian.Uint32(b))}
	if h.Version != 1 && h.Version != 2 {
		return nil, errkind.E(op, errkind.Corrupt, "unknown share version %d (want 1 or 2)", h.Version)
	}
	if len(b) < h.HeaderLen() {
		return nil, errkind.E(op, errkind.Corrupt, "share of %d bytes is shorter than its v%d header", len(b), h.Version)
	}
	f := h.readFields(b[4:h.HeaderLen()])
	h.BlockSize, h.DataSize = f[0], f[1]
	h.Data, h.PlaintextHashTree, h.CrypttextHashTree = f[2], f[3], f[4]
	h.BlockHashes, h.ShareHashes, h.URIExtension = f[5], f[6], f[7]
	if err := h.check(); err != nil {
		return nil, errkind.E(op, errkind.Corrupt, err)
	}
	return h, nil
}

// readFields decodes the eight header fields after the version.
func (h *Header) readFields(b []byte) [8]uint64 {
	var f [8]uint64
	w := h.FieldLen()
	for i := range f {
		if w == 4 {
			f[i] = uint64(binary.BigEndian.Uint32(b[i*w:]))
		} else {
			f[i] = binary.BigEndian.Uint64(b[i*w:])
		}
	}
	return f
}

// check validates the offsets.
func (h *Header) check() error {
	order := []uint64{uint64(h.HeaderLen()), h.Data, h.PlaintextHashTree, h.CrypttextHashTree,
		h.BlockHashes, h.ShareHashes, h.URIExtension}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			return errkind.E("", errkind.Corrupt, "share offsets out of order: %v", order[1:])
		}
	}
	if h.URIExtension > math.MaxInt64/2 {
		return errkind.E("", errkind.Corrupt, "share offset %d is absurd", h.URIExtension)
	}
	if (h.ShareHashes-h.BlockHashes)%hashes.HashLen != 0 {
		return errkind.E("", errkind.Corrupt, "block hash region of %d bytes is not whole hashes", h.ShareHashes-h.BlockHashes)
	}
	if (h.BlockHashes-h.CrypttextHashTree)%hashes.HashLen != 0 {
		return errkind.E("", errkind.Corrupt, "crypttext hash region of %d bytes is not whole hashes", h.BlockHashes-h.CrypttextHashTree)
	}
	if (h.URIExtension-h.ShareHashes)%shareHashEntry != 0 {
		return errkind.E("", errkind.Corrupt, "share hash region of %d bytes is not whole entries", h.URIExtension-h.ShareHashes)
	}
	return nil
}

// Marshal encodes the header in its version's layout.
func (h *Header) Marshal() []byte {
	b := make([]byte, h.HeaderLen())
	binary.BigEndian.PutUint32(b, uint32(h.Version))
	f := []uint64{h.BlockSize, h.DataSize, h.Data, h.PlaintextHashTree, h.CrypttextHashTree,
		h.BlockHashes, h.ShareHashes, h.URIExtension}
	w := h.FieldLen()
	for i, v := range f {
		if w == 4 {
			binary.BigEndian.PutUint32(b[4+i*w:], uint32(v))
		} else {
			binary.BigEndian.PutUint64(b[4+i*w:], v)
		}
	}
	return b
}

// ShareHash is one node of the share hash tree stored in a share.
type ShareHash struct {
	Index int // node index in the share hash tree
	Hash  []byte
}

// Share is a whole CHK share split into its parts. The byte slices alias
// the parsed input.
type Share struct {
	Header
	Blocks            []byte   // all blocks, concatenated
	CrypttextHashTree [][]byte // every node, root first
	BlockHashTree     [][]byte // every node, root first
	ShareHashes       []ShareHash
	UEB               []byte
}

// ParseShare splits a whole share into its parts. Bytes after the UEB are
// ignored. It does not verify any hash; see Decoder for that.
func ParseShare(b []byte) (*Share, error) {
	const op = "chk.ParseShare"
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	ueb, err := h.uebAt(b)
	if err != nil {
		return nil, errkind.E(op, errkind.Corrupt, err)
	}
	s := &Share{Header: *h, UEB: ueb}
	s.Blocks = b[h.Data:h.PlaintextHashTree]
	s.CrypttextHashTree = splitHashes(b[h.CrypttextHashTree:h.BlockHashes])
	s.BlockHashTree = splitHashes(b[h.BlockHashes:h.ShareHashes])
	s.ShareHashes = ParseShareHashes(b[h.ShareHashes:h.URIExtension])
	return s, nil
}

// uebAt reads the length-prefixed UEB from a whole share.
func (h *Header) uebAt(b []byte) ([]byte, error) {
	w := uint64(h.FieldLen())
	if uint64(len(b)) < h.URIExtension+w {
		return nil, errkind.E("", errkind.Corrupt, "share of %d bytes ends before its UEB length at %d", len(b), h.URIExtension)
	}
	n := h.readLen(b[h.URIExtension:])
	rest := uint64(len(b)) - h.URIExtension - w
	if n > rest {
		return nil, errkind.E("", errkind.Corrupt, "UEB of %d bytes overruns the share (%d left)", n, rest)
	}
	start := h.URIExtension + w
	return b[start : start+n], nil
}

// readLen decodes a UEB length field.
func (h *Header) readLen(b []byte) uint64 {
	if h.FieldLen() == 4 {
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

func splitHashes(b []byte) [][]byte {
	out := make([][]byte, len(b)/hashes.HashLen)
	for i := range out {
		out[i] = b[i*hashes.HashLen : (i+1)*hashes.HashLen]
	}
	return out
}

// ParseShareHashes splits the share hash region into its (index, hash)
// entries, in stored order. A partial trailing entry is ignored (ParseHeader
// rejects regions that are not whole entries).
func ParseShareHashes(b []byte) []ShareHash {
	out := make([]ShareHash, 0, len(b)/shareHashEntry)
	for ; len(b) >= shareHashEntry; b = b[shareHashEntry:] {
		out = append(out, ShareHash{Index: int(binary.BigEndian.Uint16(b)), Hash: b[2:shareHashEntry]})
	}
	return out
}

// Marshal lays the share out as Tahoe-LAFS does: version 1 unless a size
// or offset does not fit in 32 bits, then version 2. The plaintext hash
// tree region, which Tahoe no longer fills, is zeros the size of the
// crypttext hash tree. s.Header is ignored except for BlockSize.
func (s *Share) Marshal() []byte {
	h := s.layout(1)
	if h.URIExtension >= 1<<32 || h.BlockSize >= 1<<32 || h.DataSize >= 1<<32 {
		h = s.layout(2)
	}
	out := make([]byte, 0, int(h.URIExtension)+h.FieldLen()+len(s.UEB))
	out = append(out, h.Marshal()...)
	out = append(out, s.Blocks...)
	out = append(out, make([]byte, h.CrypttextHashTree-h.PlaintextHashTree)...)
	for _, n := range s.CrypttextHashTree {
		out = append(out, n...)
	}
	for _, n := range s.BlockHashTree {
		out = append(out, n...)
	}
	for _, sh := range s.ShareHashes {
		out = binary.BigEndian.AppendUint16(out, uint16(sh.Index))
		out = append(out, sh.Hash...)
	}
	if h.Version == 1 {
		out = binary.BigEndian.AppendUint32(out, uint32(len(s.UEB)))
	} else {
		out = binary.BigEndian.AppendUint64(out, uint64(len(s.UEB)))
	}
	return append(out, s.UEB...)
}

// layout computes the header for the given version.
func (s *Share) layout(version int) *Header {
	h := &Header{Version: version, BlockSize: s.BlockSize, DataSize: uint64(len(s.Blocks))}
	treeLen := uint64(len(s.CrypttextHashTree) * hashes.HashLen)
	h.Data = uint64(h.HeaderLen())
	h.PlaintextHashTree = h.Data + h.DataSize
	h.CrypttextHashTree = h.PlaintextHashTree + treeLen
	h.BlockHashes = h.CrypttextHashTree + treeLen
	h.ShareHashes = h.BlockHashes + uint64(len(s.BlockHashTree)*hashes.HashLen)
	h.URIExtension = h.ShareHashes + uint64(len(s.ShareHashes)*shareHashEntry)
	return h
}

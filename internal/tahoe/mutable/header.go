// Package mutable reads, verifies, decodes and encodes the share data of
// Tahoe-LAFS mutable files: SDMF (version 0, one segment) and MDMF
// (version 1, many segments with a salt each).
//
// Share data is what a storage server's mutable read returns: the slot
// contents without the on-disk container header. Every share carries a
// header (sequence number, root hash, encoding parameters, offsets), the
// RSA verification key, a signature over the signed part of the header,
// the share hash chain (proving this share's block hash tree root against
// the signed root hash), the block hash tree, the encrypted and
// erasure-coded blocks, and the private key encrypted under the writekey.
//
// Readers work in steps that match how shares are fetched: ParseHeader and
// PrefixNeeded on the first bytes of a share, VerifyPrefix on the prefix
// (key, signature, hash chain), NewShare with the block hash tree, and
// Share.VerifyBlock on each block. Decoder turns k verified blocks of one
// segment into plaintext; File does all of it for whole shares in memory.
// Encode produces the shares of a new version.
package mutable

import (
	"encoding/binary"
	"fmt"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Version is the share format: SDMF or MDMF.
type Version uint8

// The share formats.
const (
	SDMF Version = 0 // one segment, one IV for the whole file
	MDMF Version = 1 // many segments, a salt stored with each block
)

// String names the format as Tahoe does ("SDMF", "MDMF").
func (v Version) String() string {
	switch v {
	case SDMF:
		return "SDMF"
	case MDMF:
		return "MDMF"
	}
	return fmt.Sprintf("version(%d)", uint8(v))
}

// Sizes and limits of the formats.
const (
	HashLen   = 32  // SHA-256d hashes in the header and hash trees
	SaltLen   = 16  // SDMF IV and MDMF per-segment salt
	MaxShares = 255 // N is stored in one byte

	// DefaultSegmentSize is the MDMF segment size Tahoe publishes with
	// (rounded up to a multiple of k).
	DefaultSegmentSize = 128 * 1024

	// SDMFHeaderLen and MDMFHeaderLen are the header sizes including the
	// offsets table. MaxHeaderLen is enough to parse either.
	SDMFHeaderLen = 107
	MDMFHeaderLen = 123
	MaxHeaderLen  = MDMFHeaderLen

	// MaxShareSize is Tahoe's (arbitrary) limit on a mutable share.
	MaxShareSize = 69105 * 1000 * 1000 * 1000 * 1000

	sdmfSignedLen = 75
	mdmfSignedLen = 59
	chainEntryLen = 2 + HashLen
	maxDataLength = 1 << 56 // bounds arithmetic on untrusted lengths
)

// Region is a byte range [Start, End) of a share.
type Region struct{ Start, End int64 }

// Len is the number of bytes in r.
func (r Region) Len() int64 { return r.End - r.Start }

// Layout is where each part of a share lies, from the offsets table.
type Layout struct {
	VerificationKey Region // DER SubjectPublicKeyInfo
	Signature       Region // RSA-PSS over the signed prefix
	ShareHashChain  Region // (uint16 index, hash) pairs
	BlockHashTree   Region // every node of the block hash tree
	ShareData       Region // the blocks (MDMF: each preceded by its salt)
	EncPrivkey      Region // private key, AES-CTR under the writekey
	EOF             int64  // end of the share
}

// Header is the fixed-size start of a share.
type Header struct {
	Version     Version
	Seqnum      uint64
	RootHash    [HashLen]byte // root of the share hash tree
	IV          [SaltLen]byte // SDMF only; zero for MDMF
	K, N        int
	SegmentSize int64
	DataLength  int64
	Layout      Layout
}

// VersionID identifies one version of a mutable file: shares with equal
// VersionIDs can be decoded together. It is comparable.
type VersionID struct {
	Version     Version
	Seqnum      uint64
	RootHash    [HashLen]byte
	IV          [SaltLen]byte
	K, N        int
	SegmentSize int64
	DataLength  int64
}

// VersionID returns the version this header belongs to.
func (h *Header) VersionID() VersionID {
	return VersionID{h.Version, h.Seqnum, h.RootHash, h.IV, h.K, h.N, h.SegmentSize, h.DataLength}
}

// HeaderLen is the header size of h's format.
func (h *Header) HeaderLen() int { return headerLen(h.Version) }

func headerLen(v Version) int {
	if v == SDMF {
		return SDMFHeaderLen
	}
	return MDMFHeaderLen
}

// ParseHeader parses the header at the start of b, which must hold at
// least the header (SDMFHeaderLen or MDMFHeaderLen bytes; MaxHeaderLen is
// always enough). It checks that the parameters and offsets are
// consistent with each other, not that any hash or signature is valid.
func ParseHeader(b []byte) (*Header, error) {
	const op = "mutable.ParseHeader"
	h, err := parseHeader(b)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	return h, nil
}

func parseHeader(b []byte) (*Header, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("empty share")
	}
	h := &Header{Version: Version(b[0])}
	if h.Version != SDMF && h.Version != MDMF {
		return nil, fmt.Errorf("unknown share version %d", b[0])
	}
	if len(b) < h.HeaderLen() {
		return nil, fmt.Errorf("have %d bytes, %s header needs %d", len(b), h.Version, h.HeaderLen())
	}
	h.Seqnum = binary.BigEndian.Uint64(b[1:])
	copy(h.RootHash[:], b[9:41])
	p := b[41:]
	if h.Version == SDMF {
		copy(h.IV[:], p[:SaltLen])
		p = p[SaltLen:]
	}
	h.K, h.N = int(p[0]), int(p[1])
	segsize, datalen := binary.BigEndian.Uint64(p[2:]), binary.BigEndian.Uint64(p[10:])
	if segsize > maxDataLength || datalen > maxDataLength {
		return nil, fmt.Errorf("segment size %d or data length %d too large", segsize, datalen)
	}
	h.SegmentSize, h.DataLength = int64(segsize), int64(datalen)
	if err := h.checkParams(); err != nil {
		return nil, err
	}
	var err error
	if h.Version == SDMF {
		h.Layout, err = sdmfLayout(p[18:])
	} else {
		h.Layout, err = mdmfLayout(p[18:])
	}
	if err != nil {
		return nil, err
	}
	return h, h.checkLayout()
}

// checkParams checks k, N, segment size and data length.
func (h *Header) checkParams() error {
	if h.K < 1 || h.N < h.K {
		return fmt.Errorf("invalid encoding %d-of-%d", h.K, h.N)
	}
	if h.SegmentSize%int64(h.K) != 0 {
		return fmt.Errorf("segment size %d is not a multiple of k=%d", h.SegmentSize, h.K)
	}
	if h.DataLength > 0 && h.SegmentSize == 0 {
		return fmt.Errorf("data length %d with segment size 0", h.DataLength)
	}
	if h.Version == SDMF && h.DataLength > h.SegmentSize {
		return fmt.Errorf("SDMF data length %d exceeds its one segment of %d", h.DataLength, h.SegmentSize)
	}
	return nil
}

// sdmfLayout reads SDMF's offsets: four uint32 then two uint64.
func sdmfLayout(o []byte) (Layout, error) {
	be := binary.BigEndian
	offs := []uint64{SDMFHeaderLen, uint64(be.Uint32(o)), uint64(be.Uint32(o[4:])), uint64(be.Uint32(o[8:])),
		uint64(be.Uint32(o[12:])), be.Uint64(o[16:]), be.Uint64(o[24:])}
	if err := ascending(offs, "verification key", "signature", "share hash chain", "block hash tree",
		"share data", "encrypted private key", "EOF"); err != nil {
		return Layout{}, err
	}
	r := func(i int) Region { return Region{int64(offs[i]), int64(offs[i+1])} }
	return Layout{VerificationKey: r(0), Signature: r(1), ShareHashChain: r(2), BlockHashTree: r(3),
		ShareData: r(4), EncPrivkey: r(5), EOF: int64(offs[6])}, nil
}

// mdmfLayout reads MDMF's eight uint64 offsets.
func mdmfLayout(o []byte) (Layout, error) {
	offs := []uint64{MDMFHeaderLen}
	for i := 0; i < 8; i++ {
		offs = append(offs, binary.BigEndian.Uint64(o[8*i:]))
	}
	if err := ascending(offs, "header end", "encrypted private key", "share hash chain", "signature",
		"verification key", "verification key end", "share data", "block hash tree", "EOF"); err != nil {
		return Layout{}, err
	}
	r := func(i int) Region { return Region{int64(offs[i]), int64(offs[i+1])} }
	return Layout{EncPrivkey: r(1), ShareHashChain: r(2), Signature: r(3), VerificationKey: r(4),
		ShareData: r(6), BlockHashTree: r(7), EOF: int64(offs[8])}, nil
}

// ascending checks that offsets never decrease and stay within a share.
func ascending(offs []uint64, names ...string) error {
	for i := 1; i < len(offs); i++ {
		if offs[i] < offs[i-1] {
			return fmt.Errorf("offset of %s (%d) is before %s (%d)", names[i], offs[i], names[i-1], offs[i-1])
		}
	}
	if last := offs[len(offs)-1]; last > MaxShareSize {
		return fmt.Errorf("EOF offset %d exceeds the maximum share size", last)
	}
	return nil
}

// checkLayout checks region sizes against the encoding parameters.
func (h *Header) checkLayout() error {
	l := &h.Layout
	if l.ShareHashChain.Len()%chainEntryLen != 0 {
		return fmt.Errorf("share hash chain is %d bytes, not a multiple of %d", l.ShareHashChain.Len(), chainEntryLen)
	}
	if want, ok := h.shareDataLen(); !ok || want != l.ShareData.Len() {
		return fmt.Errorf("share data is %d bytes, parameters need %d", l.ShareData.Len(), want)
	}
	if want := int64(h.blockTreeNodes()) * HashLen; l.BlockHashTree.Len() != want {
		return fmt.Errorf("block hash tree is %d bytes, %d segments need %d", l.BlockHashTree.Len(), h.NumSegments(), want)
	}
	return nil
}

// NumSegments is the number of segments (0 for an empty file).
func (h *Header) NumSegments() int {
	if h.DataLength == 0 {
		return 0
	}
	return int((h.DataLength + h.SegmentSize - 1) / h.SegmentSize)
}

// SegmentLen is the plaintext length of segment seg.
func (h *Header) SegmentLen(seg int) int {
	if seg == h.NumSegments()-1 {
		return int(h.DataLength - int64(seg)*h.SegmentSize)
	}
	return int(h.SegmentSize)
}

// BlockLen is the length of each share's block of segment seg (without
// the MDMF salt).
func (h *Header) BlockLen(seg int) int {
	return (h.SegmentLen(seg) + h.K - 1) / h.K
}

// storedLen is BlockLen plus the salt MDMF stores before each block.
func (h *Header) storedLen(seg int) int {
	if h.Version == MDMF {
		return SaltLen + h.BlockLen(seg)
	}
	return h.BlockLen(seg)
}

// BlockRegion is where segment seg's block lies in a share: for MDMF the
// salt and then the block, for SDMF just the block.
func (h *Header) BlockRegion(seg int) Region {
	start := h.Layout.ShareData.Start + int64(seg)*int64(h.storedLen(0))
	return Region{start, start + int64(h.storedLen(seg))}
}

// shareDataLen is the share data size the parameters imply; ok is false
// if it is absurd.
func (h *Header) shareDataLen() (n int64, ok bool) {
	nseg := int64(h.NumSegments())
	if nseg == 0 {
		return 0, true
	}
	if nseg > MaxShareSize/SaltLen {
		return 0, false
	}
	full := int64(h.storedLen(0))
	if full > MaxShareSize/nseg {
		return 0, false
	}
	return (nseg-1)*full + int64(h.storedLen(int(nseg-1))), true
}

// blockTreeNodes is the node count of the block hash tree: a complete
// tree over the segments, at least one leaf.
func (h *Header) blockTreeNodes() int {
	w := 1
	for w < h.NumSegments() {
		w *= 2
	}
	return 2*w - 1
}

// SignedPrefix is the part of the header the signature covers.
func (h *Header) SignedPrefix() []byte {
	b := make([]byte, 0, sdmfSignedLen)
	b = append(b, byte(h.Version))
	b = binary.BigEndian.AppendUint64(b, h.Seqnum)
	b = append(b, h.RootHash[:]...)
	if h.Version == SDMF {
		b = append(b, h.IV[:]...)
	}
	b = append(b, byte(h.K), byte(h.N))
	b = binary.BigEndian.AppendUint64(b, uint64(h.SegmentSize))
	return binary.BigEndian.AppendUint64(b, uint64(h.DataLength))
}

// marshal returns the full header including the offsets table.
func (h *Header) marshal() []byte {
	b := h.SignedPrefix()
	l := &h.Layout
	be := binary.BigEndian
	if h.Version == SDMF {
		for _, o := range []int64{l.Signature.Start, l.ShareHashChain.Start, l.BlockHashTree.Start, l.ShareData.Start} {
			b = be.AppendUint32(b, uint32(o))
		}
		b = be.AppendUint64(b, uint64(l.EncPrivkey.Start))
		return be.AppendUint64(b, uint64(l.EOF))
	}
	for _, o := range []int64{l.EncPrivkey.Start, l.ShareHashChain.Start, l.Signature.Start, l.VerificationKey.Start,
		l.VerificationKey.End, l.ShareData.Start, l.BlockHashTree.Start, l.EOF} {
		b = be.AppendUint64(b, uint64(o))
	}
	return b
}

// PrefixNeeded says how many bytes from the start of a share hold the
// header, verification key, signature and share hash chain (for MDMF also
// the encrypted private key), given partial, the first bytes of the share.
// If partial is too short to tell, it returns the number of bytes needed
// to learn more (at most MaxHeaderLen); call again with that many.
func PrefixNeeded(partial []byte) (int, error) {
	const op = "mutable.PrefixNeeded"
	if len(partial) < 1 {
		return MaxHeaderLen, nil
	}
	if v := Version(partial[0]); (v == SDMF || v == MDMF) && len(partial) < headerLen(v) {
		return headerLen(v), nil
	}
	h, err := parseHeader(partial)
	if err != nil {
		return 0, errkind.E(op, errkind.Invalid, err)
	}
	return int(h.prefixEnd()), nil
}

// prefixEnd is where the prefix (everything up to and including the
// verification key, signature and share hash chain) ends.
func (h *Header) prefixEnd() int64 {
	if h.Version == SDMF {
		return h.Layout.ShareHashChain.End
	}
	return h.Layout.VerificationKey.End
}

package mutable

import (
	"bytes"
	"crypto/subtle"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashtree"
)

// Share is one share whose block hash tree has been proven against the
// signed root hash. Its blocks are checked one by one as they are read.
type Share struct {
	Num    int
	Prefix *Prefix
	tree   [][]byte // block hash tree nodes, all proven
	data   []byte   // the whole share, if ParseShare made it
}

// NewShare checks the block hash tree of share shnum (bht, the bytes of
// its BlockHashTree region) against p, a prefix VerifyPrefix accepted: the
// tree must be internally consistent and its root must lead, through the
// share hash chain, to the signed root hash.
func NewShare(shnum int, p *Prefix, bht []byte) (*Share, error) {
	const op = "mutable.NewShare"
	if shnum < 0 || shnum >= p.N {
		return nil, shareErr(op, shnum, errkind.Corrupt, "share number out of range for %d-of-%d", p.K, p.N)
	}
	if int64(len(bht)) != p.Layout.BlockHashTree.Len() {
		return nil, shareErr(op, shnum, errkind.Invalid, "block hash tree is %d bytes, want %d", len(bht), p.Layout.BlockHashTree.Len())
	}
	nodes := make([][]byte, len(bht)/HashLen)
	byIndex := make(map[int][]byte, len(nodes))
	for i := range nodes {
		nodes[i] = bytes.Clone(bht[i*HashLen : (i+1)*HashLen])
		byIndex[i] = nodes[i]
	}
	if err := checkShareChain(shnum, p, nodes[0]); err != nil {
		return nil, shareErr(op, shnum, errkind.Corrupt, "share hash chain does not lead to the root hash: %v", err)
	}
	tree := hashtree.NewPartial(max(p.NumSegments(), 1))
	if err := tree.Set(byIndex, nil); err != nil {
		return nil, shareErr(op, shnum, errkind.Corrupt, "block hash tree is inconsistent: %v", err)
	}
	return &Share{Num: shnum, Prefix: p, tree: nodes}, nil
}

// checkShareChain proves leaf (the block hash tree root of share shnum)
// against the root hash with the share hash chain.
func checkShareChain(shnum int, p *Prefix, leaf []byte) error {
	t := hashtree.NewPartial(p.N)
	if err := t.Set(map[int][]byte{0: p.RootHash[:]}, nil); err != nil {
		return err
	}
	return t.Set(p.ShareHashChain, map[int][]byte{shnum: leaf})
}

// ParseShare parses and verifies the prefix and block hash tree of the
// whole share data of share shnum (see VerifyPrefix and NewShare). Blocks
// are verified when read with Block, or all at once with Verify. Bytes
// after the share's EOF (a container that once held more) are ignored.
func ParseShare(shnum int, data, fingerprint []byte) (*Share, error) {
	const op = "mutable.ParseShare"
	p, err := VerifyPrefix(shnum, data, fingerprint)
	if err != nil {
		return nil, err
	}
	l := &p.Layout
	if int64(len(data)) < l.EOF {
		return nil, shareErr(op, shnum, errkind.Invalid, "share is %d bytes, its offsets say %d", len(data), l.EOF)
	}
	p.EncPrivkey = cut(data, l.EncPrivkey)
	s, err := NewShare(shnum, p, data[l.BlockHashTree.Start:l.BlockHashTree.End])
	if err != nil {
		return nil, err
	}
	s.data = data[:l.EOF]
	return s, nil
}

// VerifyBlock checks stored, the bytes of BlockRegion(seg) of this share,
// against the block hash tree. It returns the segment's salt (for SDMF
// the IV) and the block. The results alias stored.
func (s *Share) VerifyBlock(seg int, stored []byte) (salt, block []byte, err error) {
	const op = "mutable.VerifyBlock"
	h := &s.Prefix.Header
	if seg < 0 || seg >= h.NumSegments() {
		return nil, nil, shareErr(op, s.Num, errkind.Invalid, "no block %d (file has %d segments)", seg, h.NumSegments())
	}
	if len(stored) != h.storedLen(seg) {
		return nil, nil, shareErr(op, s.Num, errkind.Corrupt, "block %d is %d bytes, want %d", seg, len(stored), h.storedLen(seg))
	}
	leaf := s.tree[len(s.tree)/2+seg] // leaves fill the second half
	if subtle.ConstantTimeCompare(hashes.BlockHash(stored), leaf) != 1 {
		return nil, nil, shareErr(op, s.Num, errkind.Corrupt, "block %d fails the block hash tree", seg)
	}
	if h.Version == MDMF {
		return stored[:SaltLen], stored[SaltLen:], nil
	}
	return h.IV[:], stored, nil
}

// Block reads and verifies segment seg's block from a share made by
// ParseShare.
func (s *Share) Block(seg int) (salt, block []byte, err error) {
	if s.data == nil {
		return nil, nil, shareErr("mutable.Block", s.Num, errkind.Invalid, "share has no data (made by NewShare)")
	}
	h := &s.Prefix.Header
	if seg < 0 || seg >= h.NumSegments() {
		return nil, nil, shareErr("mutable.Block", s.Num, errkind.Invalid, "no block %d (file has %d segments)", seg, h.NumSegments())
	}
	r := h.BlockRegion(seg)
	return s.VerifyBlock(seg, s.data[r.Start:r.End])
}

// Verify checks every block of a share made by ParseShare.
func (s *Share) Verify() error {
	for seg := 0; seg < s.Prefix.NumSegments(); seg++ {
		if _, _, err := s.Block(seg); err != nil {
			return err
		}
	}
	return nil
}

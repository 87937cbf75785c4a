package chk

import (
	"bytes"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashtree"
)

// findUEB takes the UEB from the first share whose UEB matches the cap's
// UEB hash, and derives the file's geometry from it.
func (r *Reader) findUEB() error {
	const op = "chk.NewReader"
	for _, s := range r.live() {
		b, ok := s.readUEB()
		if !ok {
			continue
		}
		if !bytes.Equal(hashes.UEBHash(b), r.vc.UEBHash) {
			s.fail("UEB does not match the cap's UEB hash")
			continue
		}
		return r.useUEB(b)
	}
	return errkind.E(op, errkind.Unrecoverable, "no share has the cap's UEB: %s", r.describeFailures())
}

// useUEB parses the authentic UEB and sets up the trees it roots. Only
// segment_size and the two root hashes are used: the cap's k, N and size
// are authoritative, as in Tahoe.
func (r *Reader) useUEB(b []byte) error {
	const op = "chk.NewReader"
	u, err := ParseUEB(b)
	if err != nil {
		return errkind.E(op, errkind.Corrupt, "the cap's UEB is malformed: %v", err)
	}
	if u.CrypttextRootHash == nil || u.ShareRootHash == nil {
		return errkind.E(op, errkind.Corrupt, "the cap's UEB lacks a root hash")
	}
	g, err := newGeometry(r.vc.K, r.vc.N, r.vc.Size, u.SegmentSize)
	if err != nil {
		return errkind.E(op, errkind.Corrupt, "the cap's UEB: %v", err)
	}
	if g.numSegs > maxSegments {
		return errkind.E(op, errkind.Corrupt, "the cap's UEB makes %d segments", g.numSegs)
	}
	r.g, r.ueb, r.uebBytes = g, u, b
	r.shareTree = hashtree.NewPartial(r.vc.N)
	if err := r.shareTree.Set(map[int][]byte{0: u.ShareRootHash}, nil); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	return nil
}

// openShare verifies everything about s except its blocks.
func (r *Reader) openShare(s *shareState) {
	steps := []func(*shareState) bool{r.checkUEB, r.checkRegions, r.checkShareChain, r.checkBlockTree, r.checkCrypttextTree}
	for _, step := range steps {
		if !step(s) {
			return
		}
	}
}

// checkUEB requires the share's own UEB to be the authentic one.
func (r *Reader) checkUEB(s *shareState) bool {
	b, ok := s.readUEB()
	if ok && !bytes.Equal(b, r.uebBytes) {
		s.fail("UEB does not match the cap's UEB hash")
		return false
	}
	return ok
}

// checkRegions checks that the header leaves room for the blocks and
// trees the geometry implies.
func (r *Reader) checkRegions(s *shareState) bool {
	h, g := s.hdr, r.g
	tree := treeLen(g.numSegs) * hashes.HashLen
	switch {
	case h.PlaintextHashTree-h.Data < g.dataLen():
		s.fail("data region of %d bytes is shorter than the %d bytes of blocks", h.PlaintextHashTree-h.Data, g.dataLen())
	case h.BlockHashes-h.CrypttextHashTree != tree:
		s.fail("crypttext hash tree region is %d bytes, want %d", h.BlockHashes-h.CrypttextHashTree, tree)
	case h.ShareHashes-h.BlockHashes != tree:
		s.fail("block hash tree region is %d bytes, want %d", h.ShareHashes-h.BlockHashes, tree)
	case (h.URIExtension-h.ShareHashes)/shareHashEntry > maxShareHashes:
		s.fail("share hash chain of %d entries is absurd", (h.URIExtension-h.ShareHashes)/shareHashEntry)
	default:
		return true
	}
	return false
}

// checkShareChain proves the share's share-hash chain against the UEB's
// share root and requires it to cover the share's own leaf.
func (r *Reader) checkShareChain(s *shareState) bool {
	b, ok := s.readAt(s.hdr.ShareHashes, s.hdr.URIExtension-s.hdr.ShareHashes, "share hash chain")
	if !ok {
		return false
	}
	nodes := map[int][]byte{}
	for _, e := range ParseShareHashes(b) {
		if old, dup := nodes[e.Index]; dup && !bytes.Equal(old, e.Hash) {
			s.fail("share hash chain has two values for node %d", e.Index)
			return false
		}
		nodes[e.Index] = e.Hash
	}
	if err := r.shareTree.Set(nodes, nil); err != nil {
		s.fail("share hash chain fails the share hash tree: %v", err)
		return false
	}
	if r.shareTree.Node(r.shareTree.LeafIndex(s.num)) == nil {
		s.fail("share hash chain does not reach the share's own leaf")
		return false
	}
	return true
}

// checkBlockTree reads the whole block hash tree, requires it to be
// internally consistent and its root to be the share's proven leaf.
func (r *Reader) checkBlockTree(s *shareState) bool {
	nodes, ok := r.readTree(s, s.hdr.BlockHashes, "block hash tree")
	if !ok {
		return false
	}
	if !bytes.Equal(nodes[0], r.shareTree.Node(r.shareTree.LeafIndex(s.num))) {
		s.fail("block hash tree root fails the share hash tree")
		return false
	}
	s.blockTree = nodes
	return true
}

// checkCrypttextTree verifies the share's copy of the crypttext hash tree
// against the UEB's root and keeps the first good copy's leaves.
func (r *Reader) checkCrypttextTree(s *shareState) bool {
	nodes, ok := r.readTree(s, s.hdr.CrypttextHashTree, "crypttext hash tree")
	if !ok {
		return false
	}
	if !bytes.Equal(nodes[0], r.ueb.CrypttextRootHash) {
		s.fail("crypttext hash tree root does not match the UEB")
		return false
	}
	if r.ctLeaves == nil {
		first := len(nodes) / 2
		r.ctLeaves = nodes[first : first+int(r.g.numSegs)]
	}
	return true
}

// readTree reads a whole segment tree and checks that every stored node
// is what its stored leaves hash to (padding leaves included).
func (r *Reader) readTree(s *shareState, off uint64, what string) ([][]byte, bool) {
	b, ok := s.readAt(off, treeLen(r.g.numSegs)*hashes.HashLen, what)
	if !ok {
		return nil, false
	}
	nodes := splitHashes(b)
	first := len(nodes) / 2
	want := hashtree.New(nodes[first : first+int(r.g.numSegs)]).Nodes()
	for i := range nodes {
		if !bytes.Equal(nodes[i], want[i]) {
			s.fail("%s node %d is inconsistent with its leaves", what, i)
			return nil, false
		}
	}
	return nodes, true
}

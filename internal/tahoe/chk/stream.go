package chk

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"io"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/fec"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashtree"
)

// Stream encodes a CHK file segment by segment, so that its shares can be
// written in order while the file is read: the header first (its offsets
// depend only on the sizes), then one block per share per segment, then
// the tail (hash trees, share hashes and UEB) once every segment is in.
// It holds one segment and the block hashes, never the shares.
type Stream struct {
	r      io.ReaderAt
	g      *geometry
	key    []byte
	si     []byte
	hdr    *Header
	uebLen int
	codec  *fec.Code
	enc    *encoder
	ctr    cipher.Stream
	buf    []byte
	blocks [][]byte // Next's blocks
	seg    uint64
}

// NewStream reads size bytes of r once to derive the convergent key (as
// Tahoe does, the key hashes the whole plaintext with the parameters and
// secret) and returns a Stream ready to encode them in a second pass.
func NewStream(r io.ReaderAt, size uint64, secret []byte, p Params) (*Stream, error) {
	const op = "chk.NewStream"
	g, err := newGeometry(p.K, p.N, size, p.SegmentSize(size))
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	key, err := convergentKey(r, g, secret)
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	s := &Stream{r: r, g: g, key: key, si: hashes.StorageIndexCHK(key)}
	if s.ctr, err = ctrAt(key, 0); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	if s.codec, err = fec.New(g.k, g.n); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	s.enc = &encoder{g: g, key: key, blockHashes: make([][][]byte, g.n), crypttext: hashes.NewTagged(hashes.TagCiphertext, 0)}
	s.hdr, s.uebLen = streamLayout(g)
	return s, nil
}

// streamLayout computes the share header for g without the share, and the
// length of its UEB (every hash in it has a fixed length).
func streamLayout(g *geometry) (*Header, int) {
	u := g.newUEB()
	zero := make([]byte, hashes.HashLen)
	u.CrypttextHash, u.CrypttextRootHash, u.ShareRootHash = zero, zero, zero
	leaves := make([][]byte, g.n)
	for i := range leaves {
		leaves[i] = zero
	}
	s := &Share{Header: Header{BlockSize: g.blockSize}, ShareHashes: shareChain(hashtree.New(leaves), 0)}
	nodes := make([][]byte, treeLen(g.numSegs))
	s.CrypttextHashTree, s.BlockHashTree = nodes, nodes
	layout := func(v int) *Header {
		h := s.layout(v)
		h.DataSize = g.dataLen()
		shift := h.DataSize
		h.PlaintextHashTree += shift
		h.CrypttextHashTree += shift
		h.BlockHashes += shift
		h.ShareHashes += shift
		h.URIExtension += shift
		return h
	}
	h := layout(1)
	if h.URIExtension >= 1<<32 || h.BlockSize >= 1<<32 || h.DataSize >= 1<<32 {
		h = layout(2)
	}
	return h, len(u.Marshal())
}

// Key is the file's AES key (the read cap's secret).
func (s *Stream) Key() []byte { return s.key }

// StorageIndex is the file's storage index.
func (s *Stream) StorageIndex() []byte { return s.si }

// Size is the file's size.
func (s *Stream) Size() uint64 { return s.g.size }

// ShareSize is the length of every share, known before any is encoded.
func (s *Stream) ShareSize() uint64 {
	return s.hdr.URIExtension + uint64(s.hdr.FieldLen()) + uint64(s.uebLen)
}

// Header is the start of every share: its offset table.
func (s *Stream) Header() []byte { return s.hdr.Marshal() }

// NumSegments is how many times Next returns blocks.
func (s *Stream) NumSegments() uint64 { return s.g.numSegs }

// BlockLen is the length of the blocks the next call to Next or NextInto
// makes (the last segment's may be shorter); 0 after the last segment.
func (s *Stream) BlockLen() uint64 {
	if s.seg == s.g.numSegs {
		return 0
	}
	return s.g.blockLen(s.seg)
}

// Next reads, encrypts and codes the next segment and returns one block
// per share, to be written at share offset off. The blocks are valid
// until the next call. After the last segment it returns io.EOF.
func (s *Stream) Next() (blocks [][]byte, off uint64, err error) {
	if s.seg == s.g.numSegs {
		return nil, 0, io.EOF
	}
	if s.blocks == nil {
		s.blocks = make([][]byte, s.g.n)
		for i := range s.blocks {
			s.blocks[i] = make([]byte, s.g.blockSize)
		}
	}
	blocks = make([][]byte, s.g.n)
	for i := range blocks {
		blocks[i] = s.blocks[i][:s.BlockLen()]
	}
	off, err = s.NextInto(blocks)
	if err != nil {
		return nil, 0, err
	}
	return blocks, off, nil
}

// NextInto is Next writing the blocks where the caller wants them: dst[i]
// (BlockLen bytes) receives share i's block, for every share, which saves
// copying them again. The blocks are coded and hashed on all cores.
func (s *Stream) NextInto(dst [][]byte) (off uint64, err error) {
	const op = "chk.Stream.Next"
	g := s.g
	if s.seg == g.numSegs {
		return 0, io.EOF
	}
	if len(dst) != g.n {
		return 0, errkind.E(op, errkind.Usage, "%d block buffers for %d shares", len(dst), g.n)
	}
	for i, b := range dst {
		if uint64(len(b)) != s.BlockLen() {
			return 0, errkind.E(op, errkind.Usage, "block buffer %d has %d bytes, the block %d", i, len(b), s.BlockLen())
		}
	}
	if s.buf == nil {
		s.buf = make([]byte, g.segSize)
	}
	n := g.segLen(s.seg)
	got, err := s.r.ReadAt(s.buf[:n], int64(s.seg*g.segSize))
	if uint64(got) < n {
		if err == nil || err == io.EOF {
			err = errkind.E(op, errkind.Other, "input ended at byte %d of %d (it shrank while being read)", s.seg*g.segSize+uint64(got), g.size)
		}
		return 0, errkind.E(op, errkind.Other, err)
	}
	s.ctr.XORKeyStream(s.buf[:n], s.buf[:n])
	if err := s.enc.addSegmentInto(s.codec, s.seg, s.buf[:n], dst); err != nil {
		return 0, errkind.E(op, errkind.Other, err)
	}
	off = s.hdr.Data + s.seg*g.blockSize
	s.seg++
	return off, nil
}

// Tail is what a Stream yields once every segment is in.
type Tail struct {
	Offset  uint64   // where every share's tail starts
	Shares  [][]byte // per share: the bytes from Offset to the end
	UEBHash []byte   // the cap's UEB hash
}

// Finish builds the hash trees and the UEB. Call it after Next returned
// io.EOF.
func (s *Stream) Finish() (*Tail, error) {
	if s.seg != s.g.numSegs {
		return nil, errkind.E("chk.Stream.Finish", errkind.Usage, "%d of %d segments encoded", s.seg, s.g.numSegs)
	}
	g := s.g
	tr := s.enc.trees()
	ueb := tr.ueb.Marshal()
	t := &Tail{Offset: s.hdr.PlaintextHashTree, UEBHash: hashes.UEBHash(ueb), Shares: make([][]byte, g.n)}
	for i := range t.Shares {
		t.Shares[i] = s.tail(tr.ct, tr.block[i].Nodes(), shareChain(tr.share, i), ueb)
	}
	return t, nil
}

// tail lays out one share's bytes after its blocks, as Share.Marshal does.
func (s *Stream) tail(ct *hashtree.Tree, block [][]byte, chain []ShareHash, ueb []byte) []byte {
	var b bytes.Buffer
	b.Write(make([]byte, s.hdr.CrypttextHashTree-s.hdr.PlaintextHashTree))
	for _, n := range ct.Nodes() {
		b.Write(n)
	}
	for _, n := range block {
		b.Write(n)
	}
	for _, sh := range chain {
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(sh.Index)))
		b.Write(sh.Hash)
	}
	if s.hdr.FieldLen() == 4 {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(ueb))))
	} else {
		b.Write(binary.BigEndian.AppendUint64(nil, uint64(len(ueb))))
	}
	b.Write(ueb)
	return b.Bytes()
}

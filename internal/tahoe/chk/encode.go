package chk

import (
	"bytes"
	"fmt"
	"io"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/fec"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashtree"
)

// DefaultMaxSegmentSize is Tahoe-LAFS 1.20's default maximum segment size
// for immutable files (1 MiB). Tahoe's capability test vectors use 128 KiB.
const DefaultMaxSegmentSize = 1 << 20

// Params are the encoding parameters of an upload.
type Params struct {
	K, N           int // shares needed, shares made (1 <= K <= N <= 256)
	MaxSegmentSize int // 0 means DefaultMaxSegmentSize
}

// SegmentSize is the segment size Tahoe uses for a file of the given size:
// the maximum, shrunk to the file size for small files, rounded up to a
// multiple of K.
func (p Params) SegmentSize(size uint64) uint64 {
	seg := uint64(p.MaxSegmentSize)
	if seg == 0 {
		seg = DefaultMaxSegmentSize
	}
	seg = min(seg, size)
	k := uint64(max(p.K, 1))
	return divCeil(seg, k) * k
}

// Encoded is the result of encoding a file: what its cap needs and the
// shares to store.
type Encoded struct {
	Key          []byte // AES-128 key (the read cap's secret)
	StorageIndex []byte // 16 bytes, derived from Key
	UEB          *UEB
	UEBBytes     []byte // the serialised UEB stored in every share
	UEBHash      []byte // the cap's UEB hash
	Size         uint64
	K, N         int
	Shares       [][]byte // share i as a storage server stores it (no container)
}

// Encode encodes plaintext as a CHK file with its convergent key (derived
// from the plaintext, the encoding parameters and secret).
func Encode(plaintext, secret []byte, p Params) (*Encoded, error) {
	return EncodeReaderAt(bytes.NewReader(plaintext), uint64(len(plaintext)), secret, p)
}

// EncodeReaderAt encodes size bytes read from r. It reads r twice: once to
// derive the convergent key, once to encrypt. Plaintext is held one
// segment at a time; the shares are built in memory.
func EncodeReaderAt(r io.ReaderAt, size uint64, secret []byte, p Params) (*Encoded, error) {
	const op = "chk.Encode"
	g, err := newGeometry(p.K, p.N, size, p.SegmentSize(size))
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	key, err := convergentKey(r, g, secret)
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	e := &encoder{g: g, key: key}
	if err := e.encodeSegments(r); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	return e.finish(), nil
}

// convergentKey hashes the plaintext with the parameters and secret.
func convergentKey(r io.ReaderAt, g *geometry, secret []byte) ([]byte, error) {
	h, err := hashes.NewConvergentKeyHasher(g.k, g.n, int(g.segSize), secret)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(h, io.NewSectionReader(r, 0, int64(g.size)))
	if err != nil {
		return nil, err
	}
	if uint64(n) < g.size {
		return nil, fmt.Errorf("input ended at byte %d of %d (it shrank while being read)", n, g.size)
	}
	return h.Sum(), nil
}

// encoder holds the state accumulated while encoding segments.
type encoder struct {
	g           *geometry
	key         []byte
	data        [][]byte   // per share: its blocks so far
	blockHashes [][][]byte // per share: hash of each block
	segHashes   [][]byte   // crypttext segment hashes
	crypttext   *hashes.Hasher
}

// encodeSegments encrypts, hashes and erasure-codes every segment.
func (e *encoder) encodeSegments(r io.ReaderAt) error {
	g := e.g
	stream, err := ctrAt(e.key, 0)
	if err != nil {
		return err
	}
	codec, err := fec.New(g.k, g.n)
	if err != nil {
		return err
	}
	e.data = make([][]byte, g.n)
	e.blockHashes = make([][][]byte, g.n)
	for i := range e.data {
		e.data[i] = make([]byte, 0, g.dataLen())
		e.blockHashes[i] = make([][]byte, 0, g.numSegs)
	}
	e.crypttext = hashes.NewTagged(hashes.TagCiphertext, 0)
	buf := make([]byte, g.segSize)
	for seg := uint64(0); seg < g.numSegs; seg++ {
		n := g.segLen(seg)
		if _, err := r.ReadAt(buf[:n], int64(seg*g.segSize)); err != nil && err != io.EOF {
			return err
		}
		stream.XORKeyStream(buf[:n], buf[:n])
		blocks, err := e.addSegment(codec, seg, buf[:n])
		if err != nil {
			return err
		}
		for i, b := range blocks {
			e.data[i] = append(e.data[i], b...)
		}
	}
	return nil
}

// addSegment hashes one ciphertext segment, pads it, and codes it into
// one block per share, returned and counted in the block hashes.
func (e *encoder) addSegment(codec *fec.Code, seg uint64, ct []byte) ([][]byte, error) {
	blocks := make([][]byte, e.g.n)
	for i := range blocks {
		blocks[i] = make([]byte, e.g.blockLen(seg))
	}
	if err := e.addSegmentInto(codec, seg, ct, blocks); err != nil {
		return nil, err
	}
	return blocks, nil
}

// addSegmentInto is addSegment writing block i into dst[i] (blockLen(seg)
// bytes each). ct must have room to be padded in place. The blocks are
// coded and hashed in parallel, and so is the crypttext hashing.
func (e *encoder) addSegmentInto(codec *fec.Code, seg uint64, ct []byte, dst [][]byte) error {
	n := e.g.n
	if len(dst) != n {
		return fmt.Errorf("%d block buffers for %d shares", len(dst), n)
	}
	padded := ct
	if want := e.g.blockLen(seg) * uint64(e.g.k); uint64(len(ct)) < want {
		padded = append(ct, make([]byte, want-uint64(len(ct)))...)
	}
	var segHash []byte
	blockHashes := make([][]byte, n)
	errs := make([]error, n)
	parallel(n+1, func(t int) {
		if t == 0 { // the longest task (two passes over the segment) first
			e.crypttext.Write(ct)
			segHash = hashes.CiphertextSegmentHash(ct)
			return
		}
		i := t - 1
		if errs[i] = codec.EncodeBlock(padded, dst[i], i); errs[i] == nil {
			blockHashes[i] = hashes.BlockHash(dst[i])
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	e.segHashes = append(e.segHashes, segHash)
	for i, h := range blockHashes {
		e.blockHashes[i] = append(e.blockHashes[i], h)
	}
	return nil
}

// trees are the hash trees and UEB of an encoded file.
type trees struct {
	ct, share *hashtree.Tree
	block     []*hashtree.Tree // per share
	ueb       *UEB
}

// trees builds the hash trees and the UEB once every segment is in.
func (e *encoder) trees() *trees {
	g := e.g
	t := &trees{ct: hashtree.New(e.segHashes), block: make([]*hashtree.Tree, g.n)}
	roots := make([][]byte, g.n)
	for i := range t.block {
		t.block[i] = hashtree.New(e.blockHashes[i])
		roots[i] = t.block[i].Root()
	}
	t.share = hashtree.New(roots)
	t.ueb = g.newUEB()
	t.ueb.CrypttextHash = e.crypttext.Sum()
	t.ueb.CrypttextRootHash = t.ct.Root()
	t.ueb.ShareRootHash = t.share.Root()
	return t
}

// finish builds the hash trees, the UEB and the shares.
func (e *encoder) finish() *Encoded {
	g := e.g
	t := e.trees()
	u := t.ueb
	uebBytes := u.Marshal()
	out := &Encoded{
		Key: e.key, StorageIndex: hashes.StorageIndexCHK(e.key),
		UEB: u, UEBBytes: uebBytes, UEBHash: hashes.UEBHash(uebBytes),
		Size: g.size, K: g.k, N: g.n, Shares: make([][]byte, g.n),
	}
	for i := range out.Shares {
		s := &Share{
			Header:            Header{BlockSize: g.blockSize},
			Blocks:            e.data[i],
			CrypttextHashTree: t.ct.Nodes(),
			BlockHashTree:     t.block[i].Nodes(),
			ShareHashes:       shareChain(t.share, i),
			UEB:               uebBytes,
		}
		out.Shares[i] = s.Marshal()
	}
	return out
}

// shareChain lists the share hash tree nodes share i carries (its leaf and
// the uncles up to the root) in the order Tahoe writes them.
func shareChain(t *hashtree.Tree, i int) []ShareHash {
	needed := t.Needed(i, false)
	// Tahoe builds the set from the uncle chain bottom-up, then adds the leaf.
	ins := make([]int, 0, len(needed)+1)
	for j := len(needed) - 1; j >= 0; j-- {
		ins = append(ins, needed[j])
	}
	ins = append(ins, t.Len()/2+i)
	var out []ShareHash
	for _, idx := range pySetOrder(ins) {
		out = append(out, ShareHash{Index: idx, Hash: t.Node(idx)})
	}
	return out
}

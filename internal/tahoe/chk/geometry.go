package chk

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// geometry is how a file of a given size is cut into segments and blocks.
// Every segment but the last holds segSize bytes of ciphertext; the last
// (the tail) holds tailSize bytes, zero-padded to tailPadded (a multiple
// of k) before erasure coding. A block is a segment's (padded) size / k.
type geometry struct {
	k, n          int
	size          uint64
	segSize       uint64
	numSegs       uint64
	blockSize     uint64
	tailSize      uint64
	tailPadded    uint64
	tailBlockSize uint64
}

// maxSize bounds file sizes so that no size computation can overflow.
const maxSize = 1 << 56

// newGeometry checks the parameters and derives the sizes.
func newGeometry(k, n int, size, segSize uint64) (*geometry, error) {
	switch {
	case k < 1 || n < k || n > 256:
		return nil, fmt.Errorf("invalid encoding %d-of-%d (need 1 <= k <= N <= 256)", k, n)
	case size == 0:
		return nil, fmt.Errorf("a CHK file cannot be empty (Tahoe stores small files as LIT caps)")
	case size > maxSize:
		return nil, fmt.Errorf("size %d is too large", size)
	case segSize == 0 || segSize%uint64(k) != 0:
		return nil, fmt.Errorf("segment size %d is not a positive multiple of k=%d", segSize, k)
	}
	g := &geometry{k: k, n: n, size: size, segSize: segSize}
	g.numSegs = divCeil(size, segSize)
	g.blockSize = segSize / uint64(k)
	g.tailSize = size - (g.numSegs-1)*segSize
	g.tailPadded = divCeil(g.tailSize, uint64(k)) * uint64(k)
	g.tailBlockSize = g.tailPadded / uint64(k)
	return g, nil
}

func divCeil(a, b uint64) uint64 { return (a + b - 1) / b }

// segLen is the ciphertext length of segment i.
func (g *geometry) segLen(i uint64) uint64 {
	if i == g.numSegs-1 {
		return g.tailSize
	}
	return g.segSize
}

// blockLen is the length of every share's block i.
func (g *geometry) blockLen(i uint64) uint64 {
	if i == g.numSegs-1 {
		return g.tailBlockSize
	}
	return g.blockSize
}

// dataLen is the length of all blocks of one share.
func (g *geometry) dataLen() uint64 { return (g.numSegs-1)*g.blockSize + g.tailBlockSize }

// codecParams is the UEB's "segsize-k-N" for a segment of the given size.
func (g *geometry) codecParams(seg uint64) string {
	return fmt.Sprintf("%d-%d-%d", seg, g.k, g.n)
}

// newUEB fills in the parameters part of the URI extension block.
func (g *geometry) newUEB() *UEB {
	return &UEB{
		CodecName:       "crs",
		CodecParams:     g.codecParams(g.segSize),
		TailCodecParams: g.codecParams(g.tailPadded),
		Size:            g.size,
		SegmentSize:     g.segSize,
		NumSegments:     g.numSegs,
		NeededShares:    g.k,
		TotalShares:     g.n,
	}
}

// treeLen is the node count of a hash tree with the given leaf count.
func treeLen(leaves uint64) uint64 {
	w := uint64(1)
	for w < leaves {
		w *= 2
	}
	return 2*w - 1
}

// ctrAt returns Tahoe's immutable-file cipher (AES-128-CTR, counter block
// starting at zero, big-endian) positioned at byte offset off.
func ctrAt(key []byte, off uint64) (cipher.Stream, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], off/aes.BlockSize)
	s := cipher.NewCTR(block, iv[:])
	if skip := off % aes.BlockSize; skip > 0 {
		var junk [aes.BlockSize]byte
		s.XORKeyStream(junk[:skip], junk[:skip])
	}
	return s, nil
}

// keyLen is the AES-128 key length of CHK files.
const keyLen = hashes.KeyLen

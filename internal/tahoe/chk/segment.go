package chk

import (
	"bytes"
	"io"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// ReadSegment returns the verified plaintext of segment seg. It reads one
// block from each of K good shares, preferring low share numbers (the
// primary shares need no erasure arithmetic), and moves on to another
// share when a block fails its hash.
func (r *Reader) ReadSegment(seg uint64) ([]byte, error) {
	const op = "chk.ReadSegment"
	if seg >= r.g.numSegs {
		return nil, errkind.E(op, errkind.Usage, "segment %d out of range (file has %d)", seg, r.g.numSegs)
	}
	blocks, err := r.gatherBlocks(seg)
	if err != nil {
		return nil, err
	}
	padded, err := r.codec.Decode(blocks)
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	ct := padded[:r.g.segLen(seg)]
	if !bytes.Equal(hashes.CiphertextSegmentHash(ct), r.ctLeaves[seg]) {
		return nil, errkind.E(op, errkind.Corrupt, "segment %d fails the crypttext hash tree (decoded from shares %v)", seg, sortedKeys(blocks))
	}
	stream, err := ctrAt(r.key, seg*r.g.segSize)
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	stream.XORKeyStream(ct, ct)
	return ct, nil
}

// gatherBlocks collects K verified blocks of segment seg.
func (r *Reader) gatherBlocks(seg uint64) (map[int][]byte, error) {
	blocks := make(map[int][]byte, r.vc.K)
	for _, s := range r.shares {
		if len(blocks) == r.vc.K {
			break
		}
		if s.err != nil {
			continue
		}
		if b, ok := r.readBlock(s, seg); ok {
			blocks[s.num] = b
		}
	}
	if len(blocks) < r.vc.K {
		return nil, r.enough()
	}
	return blocks, nil
}

// readBlock reads block seg of share s and checks it against the share's
// block hash tree.
func (r *Reader) readBlock(s *shareState, seg uint64) ([]byte, bool) {
	off := s.hdr.Data + seg*r.g.blockSize
	b, ok := s.readAt(off, r.g.blockLen(seg), "block")
	if !ok {
		return nil, false
	}
	leaf := s.blockTree[len(s.blockTree)/2+int(seg)]
	if !bytes.Equal(hashes.BlockHash(b), leaf) {
		s.fail("block %d fails its block hash tree", seg)
		return nil, false
	}
	return b, true
}

// WriteTo decodes the whole file into w, one segment at a time.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for seg := uint64(0); seg < r.g.numSegs; seg++ {
		pt, err := r.ReadSegment(seg)
		if err != nil {
			return n, err
		}
		m, err := w.Write(pt)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func sortedKeys(m map[int][]byte) []int {
	var out []int
	for k := 0; len(out) < len(m) && k < 256; k++ {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

package chk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/fec"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashtree"
)

// Limits on what a share may make a reader allocate.
const (
	maxUEBLen      = 1 << 20 // Tahoe's UEBs are about 500 bytes
	maxShareHashes = 64      // a 256-leaf tree needs 9
	maxSegments    = 1 << 24 // 2 TiB at 128 KiB segments, 16 TiB at 1 MiB
)

// VerifyCap holds what a CHK verify cap (and so every read cap) says
// about a file: enough to check shares, not to decrypt them.
type VerifyCap struct {
	UEBHash []byte // 32 bytes
	K, N    int
	Size    uint64
}

// Decode verifies shares (share number → whole share bytes) and returns
// the plaintext. It needs K good shares; bad shares are skipped.
func Decode(key []byte, vc VerifyCap, shares map[int][]byte) ([]byte, error) {
	src := make(map[int]io.ReaderAt, len(shares))
	for n, b := range shares {
		src[n] = bytes.NewReader(b)
	}
	r, err := NewReader(key, vc, src)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(min(vc.Size, 1<<30)))
	if _, err := r.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Reader decodes a CHK file segment by segment from shares it reads by
// range (io.ReaderAt, e.g. backed by HTTP range requests), verifying
// everything it reads. A share that fails any check is dropped for the
// rest of the read and its error kept (see ShareErrors).
type Reader struct {
	key       []byte
	vc        VerifyCap
	g         *geometry
	ueb       *UEB
	uebBytes  []byte
	shares    []*shareState // ascending share number; primaries first
	shareTree *hashtree.Partial
	ctLeaves  [][]byte // verified crypttext segment hashes
	codec     *fec.Code
}

// shareState is what the Reader knows about one share.
type shareState struct {
	num       int
	src       io.ReaderAt
	hdr       *Header
	blockTree [][]byte // verified against the share hash tree
	err       error    // non-nil once the share failed
}

// NewReader checks the cap values, finds the authentic UEB and verifies
// every share's header, UEB, share hash chain, block hash tree and
// crypttext hash tree. It fails if fewer than K shares survive.
func NewReader(key []byte, vc VerifyCap, shares map[int]io.ReaderAt) (*Reader, error) {
	const op = "chk.NewReader"
	if len(key) != keyLen || len(vc.UEBHash) != hashes.HashLen {
		return nil, errkind.E(op, errkind.Invalid, "key of %d bytes or UEB hash of %d bytes", len(key), len(vc.UEBHash))
	}
	codec, err := fec.New(vc.K, vc.N)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	if vc.Size == 0 {
		return nil, errkind.E(op, errkind.Invalid, "CHK cap of size 0")
	}
	r := &Reader{key: key, vc: vc, codec: codec}
	r.addShares(shares)
	if err := r.findUEB(); err != nil {
		return nil, err
	}
	for _, s := range r.live() {
		r.openShare(s)
	}
	if err := r.enough(); err != nil {
		return nil, err
	}
	return r, nil
}

// addShares records the sources, rejecting share numbers outside 0..N-1.
func (r *Reader) addShares(shares map[int]io.ReaderAt) {
	for num, src := range shares {
		s := &shareState{num: num, src: src}
		if num < 0 || num >= r.vc.N {
			s.err = fmt.Errorf("share %d: share number out of range 0..%d", num, r.vc.N-1)
		}
		r.shares = append(r.shares, s)
	}
	sort.Slice(r.shares, func(i, j int) bool { return r.shares[i].num < r.shares[j].num })
}

// live lists the shares that have not failed.
func (r *Reader) live() []*shareState {
	var out []*shareState
	for _, s := range r.shares {
		if s.err == nil {
			out = append(out, s)
		}
	}
	return out
}

// fail marks s bad with a message naming it.
func (s *shareState) fail(format string, args ...any) {
	s.err = fmt.Errorf("share %d: %s", s.num, fmt.Sprintf(format, args...))
}

// enough reports an Unrecoverable error if fewer than K shares are live.
func (r *Reader) enough() error {
	if n := len(r.live()); n < r.vc.K {
		return errkind.E("chk.Reader", errkind.Unrecoverable, "%d good shares of the %d needed: %s",
			n, r.vc.K, r.describeFailures())
	}
	return nil
}

// describeFailures joins the share errors for a message.
func (r *Reader) describeFailures() string {
	var msgs []string
	for _, s := range r.shares {
		if s.err != nil {
			msgs = append(msgs, s.err.Error())
		}
	}
	if len(msgs) == 0 {
		return "no share failed"
	}
	return strings.Join(msgs, "; ")
}

// ShareErrors returns, by share number, why each dropped share failed.
func (r *Reader) ShareErrors() map[int]error {
	out := map[int]error{}
	for _, s := range r.shares {
		if s.err != nil {
			out[s.num] = s.err
		}
	}
	return out
}

// UEB returns the verified URI extension block.
func (r *Reader) UEB() *UEB { return r.ueb }

// NumSegments is the number of segments of the file.
func (r *Reader) NumSegments() uint64 { return r.g.numSegs }

// SegmentSize is the plaintext size of every segment but the last.
func (r *Reader) SegmentSize() uint64 { return r.g.segSize }

// readAt reads n bytes at off from a share, failing it on a short read.
func (s *shareState) readAt(off, n uint64, what string) ([]byte, bool) {
	if off > 1<<62 || n > 1<<62 {
		s.fail("%s at %d+%d is out of range", what, off, n)
		return nil, false
	}
	b := make([]byte, n)
	got, err := s.src.ReadAt(b, int64(off))
	if got == len(b) {
		return b, true
	}
	if err == nil || errors.Is(err, io.EOF) {
		s.fail("share ends inside its %s (at %d, want %d bytes, got %d)", what, off, n, got)
	} else {
		s.fail("reading %s: %v", what, err)
	}
	return nil, false
}

// readHeader reads and parses the offset table.
func (s *shareState) readHeader() bool {
	if s.hdr != nil {
		return true
	}
	b := make([]byte, MaxHeaderSize)
	got, err := s.src.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		s.fail("reading header: %v", err)
		return false
	}
	h, err := ParseHeader(b[:got])
	if err != nil {
		s.fail("%v", err)
		return false
	}
	s.hdr = h
	return true
}

// readUEB reads the share's length-prefixed UEB.
func (s *shareState) readUEB() ([]byte, bool) {
	if !s.readHeader() {
		return nil, false
	}
	w := uint64(s.hdr.FieldLen())
	lb, ok := s.readAt(s.hdr.URIExtension, w, "UEB length")
	if !ok {
		return nil, false
	}
	n := s.hdr.readLen(lb)
	if n > maxUEBLen {
		s.fail("UEB length %d is absurd", n)
		return nil, false
	}
	return s.readAt(s.hdr.URIExtension+w, n, "UEB")
}

package mutable

import (
	"bytes"
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"slices"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/fec"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Decoder turns verified blocks of one version into plaintext, one
// segment at a time.
type Decoder struct {
	h       Header
	readkey []byte
	code    *fec.Code
}

// NewDecoder returns a decoder for the version h describes (from a
// verified prefix) and the file's readkey.
func NewDecoder(h *Header, readkey []byte) (*Decoder, error) {
	if len(readkey) != hashes.KeyLen {
		return nil, errkind.E("mutable.NewDecoder", errkind.Usage, "readkey is %d bytes, want %d", len(readkey), hashes.KeyLen)
	}
	code, err := fec.New(h.K, h.N)
	if err != nil {
		return nil, errkind.E("mutable.NewDecoder", errkind.Invalid, err)
	}
	return &Decoder{h: *h, readkey: bytes.Clone(readkey), code: code}, nil
}

// Segment decodes segment seg from at least k verified blocks (by share
// number) and its salt (SDMF: the IV), and decrypts it.
func (d *Decoder) Segment(seg int, salt []byte, blocks map[int][]byte) ([]byte, error) {
	if err := d.check("mutable.Decoder.Segment", seg, salt, blocks); err != nil {
		return nil, err
	}
	return d.decode(seg, salt, blocks)
}

// SegmentTo is Segment writing the plaintext into dst, which must hold
// SegmentLen(seg) bytes; it returns that prefix of dst. With the k
// primary blocks it decrypts them straight into dst, with no erasure
// decoding and no buffer allocated: a reader that reuses dst makes
// little garbage per segment.
func (d *Decoder) SegmentTo(dst []byte, seg int, salt []byte, blocks map[int][]byte) ([]byte, error) {
	const op = "mutable.Decoder.SegmentTo"
	if err := d.check(op, seg, salt, blocks); err != nil {
		return nil, err
	}
	n := d.h.SegmentLen(seg)
	if len(dst) < n {
		return nil, errkind.E(op, errkind.Usage, "segment %d: buffer of %d bytes, want %d", seg, len(dst), n)
	}
	dst = dst[:n] // nothing past the segment is written
	for i := range d.h.K {
		if blocks[i] == nil {
			return d.decodeTo(dst, seg, salt, blocks)
		}
	}
	stream, err := ctr(hashes.SSKDatakey(salt, d.readkey))
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	for i, off := 0, 0; off < n; i, off = i+1, off+d.h.BlockLen(seg) {
		end := min(off+d.h.BlockLen(seg), n)
		stream.XORKeyStream(dst[off:end], blocks[i][:end-off])
	}
	return dst, nil
}

// check validates Segment's arguments.
func (d *Decoder) check(op string, seg int, salt []byte, blocks map[int][]byte) error {
	if seg < 0 || seg >= d.h.NumSegments() {
		return errkind.E(op, errkind.Invalid, "no segment %d (file has %d)", seg, d.h.NumSegments())
	}
	if len(salt) != SaltLen {
		return errkind.E(op, errkind.Invalid, "segment %d: salt is %d bytes, want %d", seg, len(salt), SaltLen)
	}
	if len(blocks) < d.h.K {
		return errkind.E(op, errkind.Unrecoverable, "segment %d: have %d blocks, need %d", seg, len(blocks), d.h.K)
	}
	for num, b := range blocks {
		if len(b) != d.h.BlockLen(seg) {
			return errkind.E(op, errkind.Invalid, "segment %d: block of share %d is %d bytes, want %d", seg, num, len(b), d.h.BlockLen(seg))
		}
	}
	return nil
}

// decode erasure-decodes checked blocks and decrypts the segment.
func (d *Decoder) decode(seg int, salt []byte, blocks map[int][]byte) ([]byte, error) {
	return d.decodeTo(nil, seg, salt, blocks)
}

// decodeTo is decode into dst: in place when len(dst) is the k blocks'
// length (every segment but a short last one), else copied from a new
// buffer. Nothing past len(dst) is written.
func (d *Decoder) decodeTo(dst []byte, seg int, salt []byte, blocks map[int][]byte) ([]byte, error) {
	pt, err := d.decodeIn(dst, seg, salt, blocks)
	if err != nil || dst == nil || len(pt) == 0 || &pt[0] == &dst[0] {
		return pt, err
	}
	return dst[:copy(dst, pt)], nil
}

func (d *Decoder) decodeIn(buf []byte, seg int, salt []byte, blocks map[int][]byte) ([]byte, error) {
	ct, err := d.code.DecodeTo(buf, blocks)
	if err != nil {
		return nil, errkind.E("mutable.Decoder.Segment", errkind.Invalid, "segment %d: %v", seg, err)
	}
	ct = ct[:d.h.SegmentLen(seg)]
	return ct, crypt(hashes.SSKDatakey(salt, d.readkey), ct)
}

// crypt applies AES-128-CTR with a zero starting counter, in place: how
// Tahoe encrypts each mutable segment and the private key.
func crypt(key, buf []byte) error {
	stream, err := ctr(key)
	if err != nil {
		return err
	}
	stream.XORKeyStream(buf, buf)
	return nil
}

// ctr returns AES-128-CTR under key from a zero counter.
func ctr(key []byte) (cipher.Stream, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewCTR(block, make([]byte, aes.BlockSize)), nil
}

// File decodes a whole version from shares held in memory.
type File struct {
	dec    *Decoder
	shares []*Share // ascending share number: primary blocks first
}

// NewFile checks that shares (from ParseShare) are at least k distinct
// shares of one version and returns a File that decodes them.
func NewFile(readkey []byte, shares []*Share) (*File, error) {
	const op = "mutable.NewFile"
	if len(shares) == 0 {
		return nil, errkind.E(op, errkind.Unrecoverable, "no shares")
	}
	h := &shares[0].Prefix.Header
	seen := map[int]bool{}
	for _, s := range shares {
		if s.Prefix.VersionID() != h.VersionID() {
			return nil, errkind.E(op, errkind.Usage, "share %d is of another version than share %d", s.Num, shares[0].Num)
		}
		if seen[s.Num] {
			return nil, errkind.E(op, errkind.Usage, "share %d given twice", s.Num)
		}
		seen[s.Num] = true
	}
	if len(shares) < h.K {
		return nil, errkind.E(op, errkind.Unrecoverable, "have %d shares, need %d", len(shares), h.K)
	}
	dec, err := NewDecoder(h, readkey)
	if err != nil {
		return nil, err
	}
	sorted := slices.SortedFunc(slices.Values(shares), func(a, b *Share) int { return cmp.Compare(a.Num, b.Num) })
	return &File{dec: dec, shares: sorted}, nil
}

// Header is the header of the version being decoded.
func (f *File) Header() *Header { return &f.dec.h }

// Segment verifies k blocks of segment seg, skipping shares whose block
// fails, and returns the plaintext segment.
func (f *File) Segment(seg int) ([]byte, error) {
	const op = "mutable.File.Segment"
	blocks := map[int][]byte{}
	var salt []byte
	var errs []error
	for _, s := range f.shares {
		if len(blocks) == f.dec.h.K {
			break
		}
		sl, b, err := s.Block(seg)
		if err == nil && salt != nil && !bytes.Equal(sl, salt) {
			err = shareErr(op, s.Num, errkind.Corrupt, "block %d has a salt unlike the other shares'", seg)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		salt = sl
		blocks[s.Num] = b
	}
	if len(blocks) < f.dec.h.K {
		return nil, errkind.E(op, errkind.Unrecoverable, errors.Join(append(errs,
			errkind.E(op, errkind.Unrecoverable, "segment %d: %d good blocks, need %d", seg, len(blocks), f.dec.h.K))...))
	}
	return f.dec.Segment(seg, salt, blocks)
}

// WriteTo writes the whole plaintext to w, one segment at a time.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for seg := 0; seg < f.dec.h.NumSegments(); seg++ {
		p, err := f.Segment(seg)
		if err != nil {
			return n, err
		}
		m, err := w.Write(p)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Bytes returns the whole plaintext.
func (f *File) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(f.dec.h.DataLength))
	_, err := f.WriteTo(&buf)
	return buf.Bytes(), err
}

// Decode is the one-call reader: it parses and verifies shares (share
// data by share number) against the cap's fingerprint, picks the newest
// version with at least k good shares, and returns its plaintext.
func Decode(readkey, fingerprint []byte, shares map[int][]byte) ([]byte, error) {
	const op = "mutable.Decode"
	versions := map[VersionID][]*Share{}
	var errs []error
	for num, data := range shares {
		s, err := ParseShare(num, data, fingerprint)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		versions[s.Prefix.VersionID()] = append(versions[s.Prefix.VersionID()], s)
	}
	var best *VersionID
	for v, ss := range versions {
		if len(ss) >= v.K && (best == nil || newer(v, *best)) {
			best = &v
		}
	}
	if best == nil {
		errs = append(errs, errkind.E(op, errkind.Unrecoverable, "no version has enough good shares"))
		return nil, errkind.E(op, errkind.Unrecoverable, errors.Join(errs...))
	}
	f, err := NewFile(readkey, versions[*best])
	if err != nil {
		return nil, err
	}
	return f.Bytes()
}

// newer orders versions by sequence number, then root hash, as Tahoe does.
func newer(a, b VersionID) bool {
	if a.Seqnum != b.Seqnum {
		return a.Seqnum > b.Seqnum
	}
	return bytes.Compare(a.RootHash[:], b.RootHash[:]) > 0
}

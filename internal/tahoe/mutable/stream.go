package mutable

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/fec"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Stream encodes a new MDMF version segment by segment, so that a file
// of any size is encoded in memory bounded by a few segments. The share
// layout is fixed by the size given at the start; each segment's blocks
// go to their regions (Header().BlockRegion) as they are made; Finish
// then gives what the format can only complete at the end: the signed
// prefix with the root hash, keys, signature and share hash chain (the
// bytes before the share data) and the block hash tree (after it). The
// shares put together are exactly what Encode makes of the same
// plaintext with the same salts, but for the RSA-PSS signature, which is
// randomised in both.
type Stream struct {
	e    *encoder
	code *fec.Code
	seg  int
	salt func(seg int) []byte // for tests: the salt of a segment; nil means random
}

// NewStream starts encoding size bytes of plaintext as version p (which
// must be MDMF) of the mutable file signed by priv.
func NewStream(priv *rsa.PrivateKey, size int64, p Params) (*Stream, error) {
	const op = "mutable.NewStream"
	if p.Version != MDMF {
		return nil, errkind.E(op, errkind.Usage, "only MDMF versions are encoded as a stream")
	}
	p.noShares = true
	e, err := newEncoder(priv, int(size), p)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	code, err := fec.New(p.K, p.N)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	return &Stream{e: e, code: code}, nil
}

// Header is the version's header: layout, segment size and lengths are
// final; the root hash is set by Finish.
func (s *Stream) Header() *Header { return &s.e.h }

// Segment returns the next segment's number.
func (s *Stream) Segment() int { return s.seg }

// Next encrypts and erasure-codes the next segment, whose plaintext
// (Header().SegmentLen bytes) is in plain, and returns each share's
// bytes for its block region: the segment's salt, then the block. plain
// is not changed.
func (s *Stream) Next(plain []byte) ([][]byte, error) {
	out, err := s.Encode(s.seg, plain)
	if err == nil {
		s.seg++
	}
	return out, err
}

// Encode is Next for segment seg. Calls for distinct segments may run
// concurrently (but not with Next or Finish); every segment must be
// encoded exactly once before Finish.
func (s *Stream) Encode(seg int, plain []byte) ([][]byte, error) {
	h := &s.e.h
	out := make([][]byte, h.N)
	for i := range out {
		out[i] = make([]byte, h.BlockRegion(max(seg, 0)).Len())
	}
	return out, s.EncodeInto(seg, plain, out)
}

// EncodeInto is Encode writing each share's bytes into dst[i], which
// must be exactly as long as the segment's block region.
func (s *Stream) EncodeInto(seg int, plain []byte, dst [][]byte) error {
	const op = "mutable.Stream.Encode"
	h := &s.e.h
	if seg < 0 || seg >= h.NumSegments() || len(plain) != h.SegmentLen(seg) {
		return errkind.E(op, errkind.Usage, "segment %d of %d: %d bytes given, want %d", seg, h.NumSegments(), len(plain), h.SegmentLen(seg))
	}
	if len(dst) != h.N {
		return errkind.E(op, errkind.Usage, "%d destinations for %d shares", len(dst), h.N)
	}
	for i := range dst {
		if int64(len(dst[i])) != h.BlockRegion(seg).Len() {
			return errkind.E(op, errkind.Usage, "destination %d is %d bytes, want %d", i, len(dst[i]), h.BlockRegion(seg).Len())
		}
	}
	buf := make([]byte, h.BlockLen(seg)*h.K)
	copy(buf, plain)
	salt := make([]byte, SaltLen)
	if s.salt != nil {
		copy(salt, s.salt(seg))
	} else {
		rand.Read(salt)
	}
	if err := crypt(hashes.SSKDatakey(salt, s.e.readkey), buf[:len(plain)]); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	blocks, err := s.code.Encode(buf)
	if err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	for i, b := range blocks {
		copy(dst[i][copy(dst[i], salt):], b)
		s.e.leaves[i][seg] = hashes.BlockHash(dst[i])
	}
	return nil
}

// Finished is the end of a streamed version: for each share, the bytes
// from its start up to the share data, and its block hash tree.
type Finished struct {
	Header Header
	Heads  [][]byte // written at offset 0
	Tails  [][]byte // written at Header.Layout.BlockHashTree.Start
}

// Finish builds the hash trees and signs, once every segment was encoded.
func (s *Stream) Finish() (*Finished, error) {
	const op = "mutable.Stream.Finish"
	e := s.e
	h := &e.h
	for seg := range h.NumSegments() {
		if h.N > 0 && e.leaves[0][seg] == nil {
			return nil, errkind.E(op, errkind.Usage, "segment %d of %d not encoded", seg, h.NumSegments())
		}
	}
	bhts, shareTree, sig, err := e.sign()
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	l := &h.Layout
	f := &Finished{Header: *h}
	for i := range h.N {
		head := make([]byte, l.ShareData.Start)
		copy(head, h.marshal())
		copy(head[l.VerificationKey.Start:], e.vk)
		copy(head[l.Signature.Start:], sig)
		copy(head[l.EncPrivkey.Start:], e.enc)
		at := l.ShareHashChain.Start
		for _, n := range shareTree.Needed(i, false) {
			at += int64(copy(head[at:], binary.BigEndian.AppendUint16(nil, uint16(n))))
			at += int64(copy(head[at:], shareTree.Node(n)))
		}
		tail := make([]byte, 0, l.BlockHashTree.End-l.BlockHashTree.Start)
		for _, n := range bhts[i].Nodes() {
			tail = append(tail, n...)
		}
		f.Heads = append(f.Heads, head)
		f.Tails = append(f.Tails, tail)
	}
	return f, nil
}

// provisionalMark starts the root hash of a provisional header.
var provisionalMark = []byte("tahoe-watch:wip\x00")

// ProvisionalHeader returns the version's header bytes (signed prefix
// and offsets table) with a provisional root hash in place of the real
// one, which is not known until Finish: 16 bytes marking it (see
// IsProvisional), then 16 random bytes that tell two writers apart. A
// publisher writes it first to claim the shares: it states the seqnum,
// encoding and layout, but does not verify.
func (s *Stream) ProvisionalHeader() []byte {
	h := s.e.h
	copy(h.RootHash[:], provisionalMark)
	rand.Read(h.RootHash[len(provisionalMark):])
	return h.marshal()
}

// IsProvisional reports whether a share header carries a provisional
// root hash: a streamed write of that share is in progress (or was
// abandoned), so its failing to verify says nothing bad of its server.
// Anyone can write such a header; it is a hint for how to report a
// share, never a reason to trust one.
func IsProvisional(h *Header) bool {
	return bytes.HasPrefix(h.RootHash[:], provisionalMark)
}

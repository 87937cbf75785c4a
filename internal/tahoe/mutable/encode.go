package mutable

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"fmt"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/fec"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashtree"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// Space Tahoe reserves in MDMF shares before the share data, so that the
// share data offset is known before the keys and hashes are.
const (
	mdmfPrivkeySpace = 1220
	mdmfSigSpace     = 260
	mdmfKeySpace     = 292
	mdmfChainSpace   = chainEntryLen * 8 // log2(256) chain entries
	mdmfDataStart    = MDMFHeaderLen + mdmfPrivkeySpace + mdmfSigSpace + mdmfKeySpace + mdmfChainSpace
)

// Params are the encoding parameters of a new version.
type Params struct {
	Version Version
	K, N    int
	// SegmentSize is MDMF's segment size before rounding up to a multiple
	// of K; 0 means DefaultSegmentSize. SDMF ignores it: its one segment is
	// the whole file.
	SegmentSize int
	Seqnum      uint64

	noShares bool // a Stream: shares are not held in memory
}

// Encoded is a new version: one share's data per share number.
type Encoded struct {
	Header Header // common to all shares
	Shares [][]byte
}

// encoder holds the state of one Encode call.
type encoder struct {
	priv    *rsa.PrivateKey
	h       Header
	readkey []byte
	vk, enc []byte
	shares  [][]byte
	leaves  [][][]byte // block hashes by share, then segment
}

// Encode encrypts, erasure-codes and signs plaintext as a new version of
// the mutable file whose signing key is priv, with fresh random salts.
// The shares also carry priv encrypted under the writekey, exactly as
// Tahoe stores it, so Tahoe can update the file later.
func Encode(priv *rsa.PrivateKey, plaintext []byte, p Params) (*Encoded, error) {
	const op = "mutable.Encode"
	e, err := newEncoder(priv, len(plaintext), p)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	code, err := fec.New(p.K, p.N)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	iv := make([]byte, SaltLen)
	for seg := 0; seg < e.h.NumSegments(); seg++ {
		if err := e.segment(code, seg, plaintext, iv); err != nil {
			return nil, errkind.E(op, errkind.Other, err)
		}
	}
	if e.h.Version == SDMF {
		if e.h.NumSegments() == 0 { // Tahoe signs a random IV even for an empty file
			rand.Read(iv)
		}
		copy(e.h.IV[:], iv)
	}
	if err := e.finish(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	return &Encoded{Header: e.h, Shares: e.shares}, nil
}

// newEncoder derives the keys, fixes the layout and allocates the shares.
func newEncoder(priv *rsa.PrivateKey, size int, p Params) (*encoder, error) {
	if p.Version != SDMF && p.Version != MDMF {
		return nil, fmt.Errorf("unknown version %d", p.Version)
	}
	if p.K < 1 || p.N < p.K || p.N > MaxShares {
		return nil, fmt.Errorf("invalid encoding %d-of-%d (mutable files allow 1 <= k <= N <= %d)", p.K, p.N, MaxShares)
	}
	privDER := rsakey.PrivateDER(priv)
	writekey := hashes.SSKWritekey(privDER)
	enc, err := EncryptPrivateKey(writekey, privDER)
	if err != nil {
		return nil, err
	}
	e := &encoder{priv: priv, readkey: hashes.SSKReadkey(writekey), vk: rsakey.PublicDER(&priv.PublicKey), enc: enc}
	e.h = Header{Version: p.Version, Seqnum: p.Seqnum, K: p.K, N: p.N, DataLength: int64(size)}
	e.h.SegmentSize = int64(roundUp(size, p.K))
	if p.Version == MDMF {
		e.h.SegmentSize = int64(roundUp(cmpOr(p.SegmentSize, DefaultSegmentSize), p.K))
	}
	e.layout(priv.Size())
	e.leaves = make([][][]byte, p.N)
	for i := range e.leaves {
		e.leaves[i] = make([][]byte, e.h.NumSegments())
	}
	if !p.noShares {
		e.shares = make([][]byte, p.N)
		for i := range e.shares {
			e.shares[i] = make([]byte, e.h.Layout.EOF)
		}
	}
	return e, nil
}

func roundUp(n, k int) int { return (n + k - 1) / k * k }

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// layout places every region, in Tahoe's order for the format.
func (e *encoder) layout(sigLen int) {
	h := &e.h
	dataLen, _ := h.shareDataLen()
	chainLen := int64(chainEntries(h.N) * chainEntryLen)
	bhtLen := int64(h.blockTreeNodes() * HashLen)
	at := int64(h.HeaderLen())
	next := func(n int64) Region { r := Region{at, at + n}; at += n; return r }
	l := &h.Layout
	if h.Version == SDMF {
		l.VerificationKey = next(int64(len(e.vk)))
		l.Signature = next(int64(sigLen))
		l.ShareHashChain = next(chainLen)
		l.BlockHashTree = next(bhtLen)
		l.ShareData = next(dataLen)
		l.EncPrivkey = next(int64(len(e.enc)))
	} else {
		l.EncPrivkey = next(int64(len(e.enc)))
		l.ShareHashChain = next(chainLen)
		l.Signature = next(int64(sigLen))
		l.VerificationKey = next(int64(len(e.vk)))
		at = max(at, mdmfDataStart)
		l.ShareData = next(dataLen)
		l.BlockHashTree = next(bhtLen)
	}
	l.EOF = at
}

// chainEntries is how many nodes prove a leaf of a tree over n leaves.
func chainEntries(n int) int {
	d := 0
	for w := 1; w < n; w *= 2 {
		d++
	}
	return d
}

// segment encrypts and encodes one segment into every share. SDMF uses
// iv (filled here) as its one salt.
func (e *encoder) segment(code *fec.Code, seg int, plaintext, iv []byte) error {
	h := &e.h
	start := int64(seg) * h.SegmentSize
	bl := h.BlockLen(seg)
	buf := make([]byte, bl*h.K)
	copy(buf, plaintext[start:start+int64(h.SegmentLen(seg))])
	salt := iv
	if h.Version == MDMF {
		salt = make([]byte, SaltLen)
	}
	rand.Read(salt)
	if err := crypt(hashes.SSKDatakey(salt, e.readkey), buf[:h.SegmentLen(seg)]); err != nil {
		return err
	}
	blocks, err := code.Encode(buf)
	if err != nil {
		return err
	}
	r := h.BlockRegion(seg)
	for i, b := range blocks {
		dst := e.shares[i][r.Start:r.End]
		if h.Version == MDMF {
			dst = dst[copy(dst, salt):]
		}
		copy(dst, b)
		e.leaves[i][seg] = hashes.BlockHash(e.shares[i][r.Start:r.End])
	}
	return nil
}

// sign builds the block hash trees and the share hash tree, sets the
// root hash in the header and signs its prefix.
func (e *encoder) sign() (bhts []*hashtree.Tree, shareTree *hashtree.Tree, sig []byte, err error) {
	h := &e.h
	bhts = make([]*hashtree.Tree, h.N)
	roots := make([][]byte, h.N)
	for i := range bhts {
		bhts[i] = hashtree.New(e.leaves[i])
		roots[i] = bhts[i].Root()
	}
	shareTree = hashtree.New(roots)
	copy(h.RootHash[:], shareTree.Root())
	sig, err = rsakey.Sign(e.priv, h.SignedPrefix())
	return bhts, shareTree, sig, err
}

// finish builds the hash trees, signs, and writes everything but the blocks.
func (e *encoder) finish() error {
	h := &e.h
	bhts, shareTree, sig, err := e.sign()
	if err != nil {
		return err
	}
	head := h.marshal()
	l := &h.Layout
	for i, s := range e.shares {
		copy(s, head)
		copy(s[l.VerificationKey.Start:], e.vk)
		copy(s[l.Signature.Start:], sig)
		copy(s[l.EncPrivkey.Start:], e.enc)
		var chain []byte
		for _, n := range shareTree.Needed(i, false) {
			chain = binary.BigEndian.AppendUint16(chain, uint16(n))
			chain = append(chain, shareTree.Node(n)...)
		}
		copy(s[l.ShareHashChain.Start:], chain)
		at := l.BlockHashTree.Start
		for _, n := range bhts[i].Nodes() {
			at += int64(copy(s[at:], n))
		}
	}
	return nil
}

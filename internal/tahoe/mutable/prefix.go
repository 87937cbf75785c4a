package mutable

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"fmt"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// Prefix is the start of a share that a servermap update reads: the
// header, verification key, signature and share hash chain.
type Prefix struct {
	Header
	VerificationKey []byte         // DER SubjectPublicKeyInfo
	Signature       []byte         // RSA-PSS-SHA256 over Header.SignedPrefix
	ShareHashChain  map[int][]byte // share hash tree nodes by index
	// EncPrivkey is the encrypted private key if the bytes parsed held it
	// (always for MDMF, whose prefix includes it; for SDMF only from a
	// whole share). Nil otherwise.
	EncPrivkey []byte
	// PublicKey is set by VerifyPrefix.
	PublicKey *rsa.PublicKey
}

// shareErr builds an error that names the share.
func shareErr(op string, shnum int, kind errkind.Kind, format string, args ...any) error {
	return errkind.E(op, kind, "share %d: %s", shnum, fmt.Sprintf(format, args...))
}

// ParsePrefix parses the prefix of a share (b holds at least PrefixNeeded
// bytes; more is fine). It checks structure only: VerifyPrefix also
// checks the key and signature. The result does not alias b.
func ParsePrefix(b []byte) (*Prefix, error) {
	const op = "mutable.ParsePrefix"
	p, err := parsePrefix(b)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	return p, nil
}

func parsePrefix(b []byte) (*Prefix, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if end := h.prefixEnd(); int64(len(b)) < end {
		return nil, fmt.Errorf("have %d bytes, prefix needs %d", len(b), end)
	}
	l := &h.Layout
	p := &Prefix{
		Header:          *h,
		VerificationKey: cut(b, l.VerificationKey),
		Signature:       cut(b, l.Signature),
		ShareHashChain:  map[int][]byte{},
	}
	if l.EncPrivkey.End <= int64(len(b)) {
		p.EncPrivkey = cut(b, l.EncPrivkey)
	}
	chain := b[l.ShareHashChain.Start:l.ShareHashChain.End]
	for ; len(chain) > 0; chain = chain[chainEntryLen:] {
		i := int(binary.BigEndian.Uint16(chain))
		if _, dup := p.ShareHashChain[i]; dup {
			return nil, fmt.Errorf("share hash chain names node %d twice", i)
		}
		p.ShareHashChain[i] = bytes.Clone(chain[2:chainEntryLen])
	}
	return p, nil
}

// cut copies region r of b; r must lie within b.
func cut(b []byte, r Region) []byte { return bytes.Clone(b[r.Start:r.End]) }

// VerifyPrefix parses the prefix of share shnum and checks that its
// verification key hashes to fingerprint (from the cap) and that the
// signature over the signed header is valid. The root hash, and so the
// whole version, can then be trusted. Errors name the share.
func VerifyPrefix(shnum int, b, fingerprint []byte) (*Prefix, error) {
	const op = "mutable.VerifyPrefix"
	p, err := parsePrefix(b)
	if err != nil {
		return nil, shareErr(op, shnum, errkind.Invalid, "%v", err)
	}
	if err := p.verify(shnum, fingerprint); err != nil {
		return nil, err
	}
	return p, nil
}

// verify checks the fingerprint, key, share number and signature.
func (p *Prefix) verify(shnum int, fingerprint []byte) error {
	const op = "mutable.VerifyPrefix"
	if shnum < 0 || shnum >= p.N {
		return shareErr(op, shnum, errkind.Corrupt, "share number out of range for %d-of-%d", p.K, p.N)
	}
	if !bytes.Equal(hashes.SSKPubkeyFingerprint(p.VerificationKey), fingerprint) {
		return shareErr(op, shnum, errkind.Corrupt, "verification key does not match the cap's fingerprint")
	}
	pub, err := rsakey.ParsePublicDER(p.VerificationKey)
	if err != nil {
		return shareErr(op, shnum, errkind.Corrupt, "verification key: %v", err)
	}
	if err := rsakey.Verify(pub, p.SignedPrefix(), p.Signature); err != nil {
		return shareErr(op, shnum, errkind.Corrupt, "signature does not verify")
	}
	p.PublicKey = pub
	return nil
}

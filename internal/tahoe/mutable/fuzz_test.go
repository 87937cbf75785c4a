package mutable

import (
	"io"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// fuzzSeeds are real shares: the old SDMF file and Tahoe 1.20's SDMF,
// empty SDMF and small MDMF files.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{loadOldSDMF(f).Shares[0]}
	for _, si := range []string{"dqrkoatek6jcaq4mqnlomig4wq", "hdodmqggaiqtbivm2sbmfo7hna", "grbb2jtevrxzai2gyo2ppiotfu"} {
		for _, s := range gridShares(f, si) {
			seeds = append(seeds, s)
			break
		}
	}
	return seeds
}

// selfFingerprint is the fingerprint of whatever key data claims, so that
// fuzzed shares get past the fingerprint check to the deeper checks.
func selfFingerprint(data []byte) []byte {
	p, err := ParsePrefix(data)
	if err != nil {
		return make([]byte, 32)
	}
	return hashes.SSKPubkeyFingerprint(p.VerificationKey)
}

// FuzzParsePrefix feeds arbitrary bytes to the header and prefix parsers.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		n, _ := PrefixNeeded(s)
		f.Add(s[:n])
		f.Add(s[:MaxHeaderLen])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := PrefixNeeded(b)
		if err != nil {
			return
		}
		h, herr := ParseHeader(b)
		if n < 0 || (herr == nil && n < h.HeaderLen()) {
			t.Fatalf("PrefixNeeded = %d", n)
		}
		if n > len(b) {
			return
		}
		p, err := ParsePrefix(b)
		if _, err2 := ParsePrefix(b[:n]); (err == nil) != (err2 == nil) {
			t.Fatalf("PrefixNeeded said %d bytes suffice, but with them: %v; with all %d: %v", n, err2, len(b), err)
		}
		if err != nil {
			return
		}
		_ = p.SignedPrefix()
		_, _ = VerifyPrefix(0, b, selfFingerprint(b))
		_, _ = RecoverPrivateKey(make([]byte, 16), b)
	})
}

// FuzzParseShare feeds arbitrary bytes to full share parsing,
// verification and decoding.
func FuzzParseShare(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, shnum uint8) {
		s, err := ParseShare(int(shnum), data, selfFingerprint(data))
		if err != nil {
			return
		}
		for seg := range min(s.Prefix.NumSegments(), 4) {
			if _, _, err := s.Block(seg); err != nil {
				return
			}
		}
		if s.Prefix.K == 1 {
			if f, err := NewFile(make([]byte, 16), []*Share{s}); err == nil {
				_, _ = f.WriteTo(io.Discard)
			}
		}
	})
}

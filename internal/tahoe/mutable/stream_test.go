package mutable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStreamMatchesEncode: a version streamed segment by segment and put
// together (heads, blocks at their regions, block hash trees) is byte for
// byte what Encode makes of the same plaintext with the same salts (but
// for the randomised signature, which must verify), for
// sizes around segment boundaries and several encodings.
func TestStreamMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kn := range [][2]int{{1, 1}, {3, 10}, {4, 5}} {
		k, n := kn[0], kn[1]
		seg := roundUp(DefaultSegmentSize, k)
		for _, size := range []int{0, 1, seg - 1, seg, seg + 1, 3*seg + 17} {
			t.Run(fmt.Sprintf("%d-of-%d/%d", k, n, size), func(t *testing.T) {
				plain := make([]byte, size)
				for i := range plain {
					plain[i] = byte(rng.Uint32())
				}
				p := Params{Version: MDMF, K: k, N: n, Seqnum: 3}
				want, err := Encode(key(t), plain, p)
				if err != nil {
					t.Fatal(err)
				}
				got := streamShares(t, plain, p, func(seg int) []byte {
					r := want.Header.BlockRegion(seg)
					return want.Shares[0][r.Start : r.Start+SaltLen]
				})
				_, _, fp := keysOf(key(t))
				sig := want.Header.Layout.Signature
				for i := range want.Shares {
					sh, err := ParseShare(i, got[i], fp)
					if err != nil {
						t.Fatalf("share %d: %v", i, err)
					}
					if err := sh.Verify(); err != nil {
						t.Fatalf("share %d: %v", i, err)
					}
					// RSA-PSS signatures are randomised: all but the
					// signature must match exactly.
					clear(got[i][sig.Start:sig.End])
					clear(want.Shares[i][sig.Start:sig.End])
					if !bytes.Equal(got[i], want.Shares[i]) {
						at := 0
						for at < len(got[i]) && got[i][at] == want.Shares[i][at] {
							at++
						}
						t.Fatalf("share %d: streamed (%d bytes) differs from Encode (%d bytes) at %d (layout %+v)", i, len(got[i]), len(want.Shares[i]), at, want.Header.Layout)
					}
				}
			})
		}
	}
}

// streamShares streams plain and puts the shares together.
func streamShares(t *testing.T, plain []byte, p Params, salt func(int) []byte) [][]byte {
	t.Helper()
	s, err := NewStream(key(t), int64(len(plain)), p)
	if err != nil {
		t.Fatal(err)
	}
	s.salt = salt
	h := s.Header()
	shares := make([][]byte, p.N)
	for i := range shares {
		shares[i] = make([]byte, h.Layout.EOF)
	}
	for seg := range h.NumSegments() {
		start := int64(seg) * h.SegmentSize
		blocks, err := s.Next(plain[start : start+int64(h.SegmentLen(seg))])
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range blocks {
			copy(shares[i][h.BlockRegion(seg).Start:], b)
		}
	}
	f, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for i := range shares {
		copy(shares[i], f.Heads[i])
		copy(shares[i][f.Header.Layout.BlockHashTree.Start:], f.Tails[i])
	}
	return shares
}

// TestProvisionalHeader: a stream's provisional header parses with the
// version's seqnum, encoding and layout, is marked provisional, differs
// between calls (two writers never share one), and a real header is not
// marked.
func TestProvisionalHeader(t *testing.T) {
	p := Params{Version: MDMF, K: 3, N: 10, Seqnum: 9}
	s, err := NewStream(key(t), 1<<20, p)
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.ProvisionalHeader(), s.ProvisionalHeader()
	if bytes.Equal(a, b) {
		t.Fatal("two provisional headers are equal")
	}
	h, err := ParseHeader(a)
	if err != nil {
		t.Fatal(err)
	}
	if !IsProvisional(h) || h.Seqnum != 9 || h.K != 3 || h.N != 10 || h.Layout != s.Header().Layout {
		t.Fatalf("provisional header parses as %+v", h.VersionID())
	}
	e, err := Encode(key(t), make([]byte, 1000), p)
	if err != nil {
		t.Fatal(err)
	}
	if IsProvisional(&e.Header) {
		t.Fatal("a real header reads as provisional")
	}
}

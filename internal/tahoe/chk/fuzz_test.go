package chk

import (
	"bytes"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// gridShare0 is a real Tahoe-LAFS 1.20 share (without container) for seeds.
func gridShare0(f *testing.F) []byte {
	b := testutil.ReadTestdata(f, "grid", "shares", "storage2", "oc", "ocbscko7natvut7km2csd3hhgm", "0")
	return b[12 : len(b)-72]
}

func FuzzParseUEB(f *testing.F) {
	s, err := ParseShare(gridShare0(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.UEB)
	e, err := Encode([]byte("fuzz seed plaintext, long enough to be CHK......"), testSecret, Params{K: 2, N: 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.UEBBytes)
	f.Add([]byte("size:1:5,zzz:0:,"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUEB(b)
		if err != nil {
			return
		}
		m := u.Marshal()
		u2, err := ParseUEB(m)
		if err != nil {
			t.Fatalf("re-parse of Marshal: %v", err)
		}
		if !bytes.Equal(u2.Marshal(), m) {
			t.Fatal("Marshal is not stable")
		}
	})
}

func FuzzParseShare(f *testing.F) {
	f.Add(gridShare0(f))
	e, err := Encode(randomBytes(1, 300), testSecret, Params{K: 2, N: 3, MaxSegmentSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range e.Shares {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseShare(b)
		if err != nil {
			return
		}
		if uint64(len(s.Blocks)) != s.PlaintextHashTree-s.Data {
			t.Fatal("blocks region has the wrong length")
		}
		for _, h := range append(s.CrypttextHashTree, s.BlockHashTree...) {
			if len(h) != 32 {
				t.Fatal("hash of the wrong length")
			}
		}
		// A share's own parts, laid out again, parse back to the same parts.
		again, err := ParseShare(s.Marshal())
		if err != nil {
			t.Fatalf("re-parse of Marshal: %v", err)
		}
		if !bytes.Equal(again.Blocks, s.Blocks) || !bytes.Equal(again.UEB, s.UEB) || len(again.ShareHashes) != len(s.ShareHashes) {
			t.Fatal("Marshal does not round-trip")
		}
	})
}

// FuzzDecode replaces share 0 of a 2-of-4 file with arbitrary bytes. With
// three good shares left the file must always decode correctly; with only
// one good share left, decoding must fail or give the right plaintext.
func FuzzDecode(f *testing.F) {
	pt := randomBytes(9, 300)
	e, err := Encode(pt, testSecret, Params{K: 2, N: 4, MaxSegmentSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range e.Shares {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, share0 []byte) {
		got, err := Decode(e.Key, vcOf(e), map[int][]byte{0: share0, 1: e.Shares[1], 2: e.Shares[2], 3: e.Shares[3]})
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("decode with three good shares: %v", err)
		}
		got, err = Decode(e.Key, vcOf(e), map[int][]byte{0: share0, 3: e.Shares[3]})
		if err == nil && !bytes.Equal(got, pt) {
			t.Fatal("decoded wrong plaintext without an error")
		}
	})
}

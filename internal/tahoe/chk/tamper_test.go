package chk

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

func readers(shares map[int][]byte) map[int]io.ReaderAt {
	out := map[int]io.ReaderAt{}
	for n, b := range shares {
		out[n] = bytes.NewReader(b)
	}
	return out
}

// TestTamperedShareIsDropped flips one byte in each part of share 0 and
// checks that share 0 is blamed by name while the file still decodes
// from the other shares, and that with only k shares the decode fails
// (never returns wrong plaintext).
func TestTamperedShareIsDropped(t *testing.T) {
	pt := randomBytes(42, 3*testSeg+7)
	e, err := Encode(pt, testSecret, Params{K: 3, N: 10, MaxSegmentSize: testSeg})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(e.Shares[0])
	if err != nil {
		t.Fatal(err)
	}
	blockSize := h.BlockSize
	cases := []struct {
		name string
		off  uint64
		want string
	}{
		{"block 2", h.Data + 2*blockSize + 17, "share 0: block 2 fails its block hash tree"},
		{"tail block", h.Data + 3*blockSize + 1, "share 0: block 3 fails its block hash tree"},
		{"crypttext tree", h.CrypttextHashTree + 40, "share 0: crypttext hash tree"},
		{"block tree leaf", h.BlockHashes + 4*32 + 3, "share 0: block hash tree"},
		{"block tree root", h.BlockHashes + 1, "share 0: block hash tree"},
		{"share hash value", h.ShareHashes + 2 + 9, "share 0: share hash chain"},
		{"share hash index", h.ShareHashes + 1, "share 0: share hash chain"},
		{"UEB", h.URIExtension + 4 + 20, "share 0: UEB does not match"},
		{"UEB length", h.URIExtension + 3, "share 0:"},
		{"version", 3, "share 0:"},
		{"offset table", 0x1b, "share 0:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := append([]byte(nil), e.Shares[0]...)
			bad[c.off] ^= 0x40
			shares := map[int][]byte{0: bad, 1: e.Shares[1], 2: e.Shares[2], 7: e.Shares[7]}
			r, err := NewReader(e.Key, vcOf(e), readers(shares))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := r.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), pt) {
				t.Fatal("plaintext differs")
			}
			errs := r.ShareErrors()
			if len(errs) != 1 || errs[0] == nil || !strings.Contains(errs[0].Error(), c.want) {
				t.Fatalf("share errors %v, want share 0 to fail with %q", errs, c.want)
			}
			delete(shares, 7)
			_, err = Decode(e.Key, vcOf(e), shares)
			if !errkind.Is(err, errkind.Unrecoverable) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode from k shares, one bad = %v, want unrecoverable naming %q", err, c.want)
			}
		})
	}
}

func TestWrongCap(t *testing.T) {
	pt := randomBytes(5, 1000)
	e, err := Encode(pt, testSecret, Params{K: 2, N: 4})
	if err != nil {
		t.Fatal(err)
	}
	vc := vcOf(e)
	vc.UEBHash = bytes.Repeat([]byte{1}, 32)
	if _, err := Decode(e.Key, vc, sharesOf(e, []int{0, 1, 2, 3})); !errkind.Is(err, errkind.Unrecoverable) {
		t.Errorf("wrong UEB hash: %v", err)
	}
	vc = vcOf(e)
	vc.Size++
	if _, err := Decode(e.Key, vc, sharesOf(e, []int{0, 1, 2, 3})); err == nil {
		t.Errorf("wrong size decoded")
	}
	vc = vcOf(e)
	if _, err := Decode(e.Key, vc, map[int][]byte{0: e.Shares[0], 9: e.Shares[1]}); !errkind.Is(err, errkind.Unrecoverable) || !strings.Contains(err.Error(), "share 9") {
		t.Errorf("out-of-range share number: %v", err)
	}
}

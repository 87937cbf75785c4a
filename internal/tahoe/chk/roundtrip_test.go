package chk

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

const testSeg = 128 << 10

var testSecret = []byte("tahoe-watch test convergence secret")

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func vcOf(e *Encoded) VerifyCap {
	return VerifyCap{UEBHash: e.UEBHash, K: e.K, N: e.N, Size: e.Size}
}

// someSubsets picks a few k-subsets of n shares: the primaries, the last
// k, and a random one.
func someSubsets(k, n int, seed uint64) [][]int {
	r := rand.New(rand.NewPCG(seed, 2))
	var first, last []int
	for i := 0; i < k; i++ {
		first = append(first, i)
		last = append(last, n-k+i)
	}
	random := r.Perm(n)[:k]
	return [][]int{first, last, random}
}

func sharesOf(e *Encoded, nums []int) map[int][]byte {
	out := map[int][]byte{}
	for _, n := range nums {
		out[n] = e.Shares[n]
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	sizes := []int{1, testSeg - 1, testSeg, testSeg + 1, 3*testSeg + 7, 10 << 20}
	codes := [][2]int{{1, 1}, {3, 10}, {7, 10}, {256, 256}}
	for _, kn := range codes {
		for _, size := range sizes {
			name := fmt.Sprintf("%d-of-%d/%d", kn[0], kn[1], size)
			t.Run(name, func(t *testing.T) {
				if testing.Short() && size > 1<<20 {
					t.Skip("large round trip skipped in -short mode")
				}
				pt := randomBytes(uint64(size), size)
				e, err := Encode(pt, testSecret, Params{K: kn[0], N: kn[1], MaxSegmentSize: testSeg})
				if err != nil {
					t.Fatal(err)
				}
				for _, sub := range someSubsets(kn[0], kn[1], uint64(size)) {
					got, err := Decode(e.Key, vcOf(e), sharesOf(e, sub))
					if err != nil {
						t.Fatalf("shares %v: %v", sub, err)
					}
					if !bytes.Equal(got, pt) {
						t.Fatalf("shares %v: plaintext differs", sub)
					}
				}
			})
		}
	}
}

func TestEmptyFileIsRejected(t *testing.T) {
	_, err := Encode(nil, testSecret, Params{K: 3, N: 10})
	if !errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), "LIT") {
		t.Fatalf("Encode(empty) = %v, want a usage error pointing at LIT", err)
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []Params{{K: 0, N: 1}, {K: 4, N: 3}, {K: 1, N: 257}} {
		if _, err := Encode([]byte("x"), testSecret, p); !errkind.Is(err, errkind.Usage) {
			t.Errorf("Encode with %+v = %v, want a usage error", p, err)
		}
	}
}

func TestSegmentSizeShrinksForSmallFiles(t *testing.T) {
	for _, c := range []struct {
		p    Params
		size uint64
		want uint64
	}{
		{Params{K: 3, N: 10, MaxSegmentSize: testSeg}, 56, 57},
		{Params{K: 3, N: 10, MaxSegmentSize: testSeg}, 1 << 20, 131073},
		{Params{K: 1, N: 1}, 5 << 20, 1 << 20},
		{Params{K: 101, N: 256, MaxSegmentSize: testSeg}, 1024, 1111},
	} {
		if got := c.p.SegmentSize(c.size); got != c.want {
			t.Errorf("%+v.SegmentSize(%d) = %d, want %d", c.p, c.size, got, c.want)
		}
	}
}

func TestReadSegmentRandomAccess(t *testing.T) {
	pt := randomBytes(7, 3*testSeg+7)
	e, err := Encode(pt, testSecret, Params{K: 3, N: 10, MaxSegmentSize: testSeg})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(e.Key, vcOf(e), readers(sharesOf(e, []int{9, 4, 6})))
	if err != nil {
		t.Fatal(err)
	}
	seg := r.SegmentSize()
	for _, i := range []uint64{3, 1, 0, 2} {
		got, err := r.ReadSegment(i)
		if err != nil {
			t.Fatal(err)
		}
		want := pt[i*seg : min((i+1)*seg, uint64(len(pt)))]
		if !bytes.Equal(got, want) {
			t.Fatalf("segment %d differs", i)
		}
	}
	if _, err := r.ReadSegment(4); !errkind.Is(err, errkind.Usage) {
		t.Fatalf("ReadSegment past the end = %v", err)
	}
}

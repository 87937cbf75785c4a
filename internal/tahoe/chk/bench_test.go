package chk

import (
	"testing"
)

const benchSize = 8 << 20

func BenchmarkEncode8MiB(b *testing.B) {
	pt := randomBytes(1, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := Encode(pt, testSecret, Params{K: 3, N: 10, MaxSegmentSize: testSeg}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode8MiB verifies, decodes and decrypts an 8 MiB 3-of-10 file
// from three shares: one primary and two that need erasure decoding.
func BenchmarkDecode8MiB(b *testing.B) {
	pt := randomBytes(1, benchSize)
	e, err := Encode(pt, testSecret, Params{K: 3, N: 10, MaxSegmentSize: testSeg})
	if err != nil {
		b.Fatal(err)
	}
	shares := sharesOf(e, []int{0, 5, 9})
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := Decode(e.Key, vcOf(e), shares); err != nil {
			b.Fatal(err)
		}
	}
}

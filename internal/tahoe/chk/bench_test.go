package chk

import (
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

const benchSize = 8 << 20

// BenchmarkEncode8MiB encrypts, hashes and encodes an 8 MiB 3-of-10 CHK
// file.
func BenchmarkEncode8MiB(b *testing.B) {
	pt := randomBytes(1, benchSize)
	c := testutil.NewCeiling(b, randomBytes(1, benchSize))
	b.SetBytes(benchSize)
	for b.Loop() {
		c.Measure(b, func() {
			if _, err := Encode(pt, testSecret, Params{K: 3, N: 10, MaxSegmentSize: testSeg}); err != nil {
				b.Fatal(err)
			}
		})
	}
	c.Report(b)
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
	c := testutil.NewCeiling(b, randomBytes(1, benchSize))
	b.SetBytes(benchSize)
	for b.Loop() {
		c.Measure(b, func() {
			if _, err := Decode(e.Key, vcOf(e), shares); err != nil {
				b.Fatal(err)
			}
		})
	}
	c.Report(b)
}

// BenchmarkCeilingAESCTRSHA256_8MiB is the floor of any verified decode
// or encode of benchSize bytes: one AES-128-CTR pass and one SHA-256 pass
// over the same bytes, standard library, nothing else.
func BenchmarkCeilingAESCTRSHA256_8MiB(b *testing.B) {
	c := testutil.NewCeiling(b, randomBytes(1, benchSize))
	b.SetBytes(benchSize)
	for b.Loop() {
		c.Pass()
	}
}

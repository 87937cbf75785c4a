package mutable

import (
	"io"
	"math/rand/v2"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

const benchSize = 8 << 20

func benchPlaintext() []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	p := make([]byte, benchSize)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// BenchmarkDecodeMDMF8MiB verifies (prefix, signature, hash trees, every
// block), decodes and decrypts an 8 MiB 3-of-10 MDMF file from 3 shares.
func BenchmarkDecodeMDMF8MiB(b *testing.B) { benchDecode(b, 0, 1, 2) }

// BenchmarkDecodeMDMF8MiBParity is the same from three parity shares,
// which need the erasure decoder's arithmetic.
func BenchmarkDecodeMDMF8MiBParity(b *testing.B) { benchDecode(b, 7, 8, 9) }

func benchDecode(b *testing.B, nums ...int) {
	e, err := Encode(key(b), benchPlaintext(), Params{Version: MDMF, K: 3, N: 10, Seqnum: 1})
	if err != nil {
		b.Fatal(err)
	}
	_, readkey, fp := keysOf(key(b))
	c := testutil.NewCeiling(b, benchPlaintext())
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		c.Measure(b, func() {
			shares := make([]*Share, len(nums))
			for i, n := range nums {
				if shares[i], err = ParseShare(n, e.Shares[n], fp); err != nil {
					b.Fatal(err)
				}
			}
			f, err := NewFile(readkey, shares)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := f.WriteTo(io.Discard); err != nil || n != benchSize {
				b.Fatal(n, err)
			}
		})
	}
	c.Report(b)
}

// BenchmarkEncodeMDMF8MiB encrypts, encodes and signs an 8 MiB 3-of-10
// MDMF file.
func BenchmarkEncodeMDMF8MiB(b *testing.B) {
	plain := benchPlaintext()
	priv := key(b)
	c := testutil.NewCeiling(b, benchPlaintext())
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		c.Measure(b, func() {
			if _, err := Encode(priv, plain, Params{Version: MDMF, K: 3, N: 10, Seqnum: 1}); err != nil {
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
	c := testutil.NewCeiling(b, benchPlaintext())
	b.SetBytes(benchSize)
	for b.Loop() {
		c.Pass()
	}
}

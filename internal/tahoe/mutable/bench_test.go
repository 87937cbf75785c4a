package mutable

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"
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
	c := newCeiling(b)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		c.measure(b, func() {
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
	c.report(b)
}

// BenchmarkEncodeMDMF8MiB encrypts, encodes and signs an 8 MiB 3-of-10
// MDMF file.
func BenchmarkEncodeMDMF8MiB(b *testing.B) {
	plain := benchPlaintext()
	priv := key(b)
	c := newCeiling(b)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		c.measure(b, func() {
			if _, err := Encode(priv, plain, Params{Version: MDMF, K: 3, N: 10, Seqnum: 1}); err != nil {
				b.Fatal(err)
			}
		})
	}
	c.report(b)
}

// BenchmarkCeilingAESCTRSHA256_8MiB is the floor of any verified decode
// or encode of benchSize bytes: one AES-128-CTR pass and one SHA-256 pass
// over the same bytes, standard library, nothing else.
func BenchmarkCeilingAESCTRSHA256_8MiB(b *testing.B) {
	c := newCeiling(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		c.pass()
	}
}

// ceiling runs the ceiling benchmark's work (AES-128-CTR + SHA-256 over
// benchSize bytes, once) between the iterations of another benchmark, so
// that it can report its speed as a fraction of the ceiling measured in
// the same run, under the same load: the metric "of-ceiling" (1.0 = as
// fast as encrypting and hashing the bytes once).
type ceiling struct {
	plain, out []byte
	blk        cipher.Block
	spent      time.Duration // in pass
	op         time.Duration // in the measured operation, as timed by the caller
}

func newCeiling(b *testing.B) *ceiling {
	blk, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	p := benchPlaintext()
	return &ceiling{plain: p, out: make([]byte, len(p)), blk: blk}
}

func (c *ceiling) pass() {
	start := time.Now()
	var iv [aes.BlockSize]byte
	cipher.NewCTR(c.blk, iv[:]).XORKeyStream(c.out, c.plain)
	sum := sha256.Sum256(c.out)
	c.out[0] ^= sum[0] // keeps the hash live
	c.spent += time.Since(start)
}

// measure times one run of op and one ceiling pass outside b's timer.
func (c *ceiling) measure(b *testing.B, op func()) {
	start := time.Now()
	op()
	c.op += time.Since(start)
	b.StopTimer()
	c.pass()
	b.StartTimer()
}

func (c *ceiling) report(b *testing.B) {
	if c.op > 0 {
		b.ReportMetric(float64(c.spent)/float64(c.op), "of-ceiling")
	}
}

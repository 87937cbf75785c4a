package chk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"testing"
	"time"
)

const benchSize = 8 << 20

// BenchmarkEncode8MiB encrypts, hashes and encodes an 8 MiB 3-of-10 CHK
// file.
func BenchmarkEncode8MiB(b *testing.B) {
	pt := randomBytes(1, benchSize)
	c := newCeiling(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		c.measure(b, func() {
			if _, err := Encode(pt, testSecret, Params{K: 3, N: 10, MaxSegmentSize: testSeg}); err != nil {
				b.Fatal(err)
			}
		})
	}
	c.report(b)
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
	c := newCeiling(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		c.measure(b, func() {
			if _, err := Decode(e.Key, vcOf(e), shares); err != nil {
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
	p := randomBytes(1, benchSize)
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

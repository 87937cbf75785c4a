package testutil

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"testing"
	"time"
)

// Ceiling runs a ceiling benchmark's work (AES-128-CTR + SHA-256 over
// some bytes, once: the floor of any verified encode or decode of them)
// between the iterations of another benchmark, so that it can report
// its speed as a fraction of the ceiling measured in the same run, under
// the same load: the metric "of-ceiling" (1.0 = as fast as encrypting
// and hashing the bytes once).
type Ceiling struct {
	plain, out []byte
	blk        cipher.Block
	spent      time.Duration // in Pass
	op         time.Duration // in the measured operation
}

// NewCeiling returns a Ceiling over plain, which it keeps.
func NewCeiling(b *testing.B, plain []byte) *Ceiling {
	blk, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	return &Ceiling{plain: plain, out: make([]byte, len(plain)), blk: blk}
}

// Pass encrypts and hashes the bytes once.
func (c *Ceiling) Pass() {
	start := time.Now()
	var iv [aes.BlockSize]byte
	cipher.NewCTR(c.blk, iv[:]).XORKeyStream(c.out, c.plain)
	sum := sha256.Sum256(c.out)
	c.out[0] ^= sum[0] // keeps the hash live
	c.spent += time.Since(start)
}

// Measure times one run of op and one Pass outside b's timer.
func (c *Ceiling) Measure(b *testing.B, op func()) {
	start := time.Now()
	op()
	c.op += time.Since(start)
	b.StopTimer()
	c.Pass()
	b.StartTimer()
}

// Report reports the "of-ceiling" metric of the runs measured.
func (c *Ceiling) Report(b *testing.B) {
	if c.op > 0 {
		b.ReportMetric(float64(c.spent)/float64(c.op), "of-ceiling")
	}
}

// Package fec is Tahoe-LAFS's erasure code: zfec's systematic
// Reed-Solomon code over GF(2^8), provided by storj.io/infectious, whose
// encoding matches zfec byte for byte. Blocks are always hash-verified
// before decoding, so decoding uses the erasure-only rebuild, never the
// slower error-correcting decode.
package fec

import (
	"fmt"

	"storj.io/infectious"
)

// MaxShares is zfec's limit on k and N.
const MaxShares = 256

// Code is a k-of-n erasure code. It is safe for concurrent use.
type Code struct {
	k, n int
	f    *infectious.FEC
}

// New returns the k-of-n code; 1 <= k <= n <= 256.
func New(k, n int) (*Code, error) {
	if k < 1 || n < k || n > MaxShares {
		return nil, fmt.Errorf("fec: invalid encoding %d-of-%d (need 1 <= k <= N <= %d)", k, n, MaxShares)
	}
	f, err := infectious.NewFEC(k, n)
	if err != nil {
		return nil, fmt.Errorf("fec: %w", err)
	}
	return &Code{k: k, n: n, f: f}, nil
}

// K is the number of blocks needed to decode.
func (c *Code) K() int { return c.k }

// N is the number of blocks produced.
func (c *Code) N() int { return c.n }

// Encode splits data (whose length must be a multiple of k; callers pad)
// into n blocks of len(data)/k bytes. Blocks 0..k-1 are the data itself.
func (c *Code) Encode(data []byte) ([][]byte, error) {
	if len(data)%c.k != 0 {
		return nil, fmt.Errorf("fec: input of %d bytes is not a multiple of k=%d", len(data), c.k)
	}
	out := make([][]byte, c.n)
	err := c.f.Encode(data, func(s infectious.Share) {
		out[s.Number] = append([]byte(nil), s.Data...)
	})
	if err != nil {
		return nil, fmt.Errorf("fec: %w", err)
	}
	return out, nil
}

// Decode rebuilds the original data from at least k distinct blocks, given
// by block number. All blocks must have the same length; extra blocks
// beyond k are ignored. It returns k*blockLen bytes.
func (c *Code) Decode(blocks map[int][]byte) ([]byte, error) {
	return c.DecodeTo(nil, blocks)
}

// DecodeTo is Decode writing into out when it holds the k*blockLen bytes
// (else into a new buffer); it returns those bytes.
func (c *Code) DecodeTo(out []byte, blocks map[int][]byte) ([]byte, error) {
	if len(blocks) < c.k {
		return nil, fmt.Errorf("fec: have %d blocks, need %d", len(blocks), c.k)
	}
	shares := make([]infectious.Share, 0, c.k)
	size := -1
	// Prefer primary blocks: they need no arithmetic.
	for pass := 0; pass < 2 && len(shares) < c.k; pass++ {
		for num, b := range blocks {
			if len(shares) == c.k {
				break
			}
			if num < 0 || num >= c.n {
				return nil, fmt.Errorf("fec: block number %d out of range 0..%d", num, c.n-1)
			}
			if (pass == 0) != (num < c.k) {
				continue
			}
			if size >= 0 && len(b) != size {
				return nil, fmt.Errorf("fec: block %d has %d bytes, others %d", num, len(b), size)
			}
			size = len(b)
			shares = append(shares, infectious.Share{Number: num, Data: b})
		}
	}
	if len(out) < c.k*size {
		out = make([]byte, c.k*size)
	}
	out = out[:c.k*size]
	err := c.f.Rebuild(shares, func(s infectious.Share) {
		copy(out[s.Number*size:], s.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("fec: %w", err)
	}
	return out, nil
}

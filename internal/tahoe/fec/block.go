package fec

import "fmt"

// EncodeBlock writes block num of data (whose length must be a multiple
// of k) into out, which must be len(data)/k bytes: the same bytes as
// Encode's block num, without allocating. Blocks of one input may be
// encoded concurrently.
func (c *Code) EncodeBlock(data, out []byte, num int) error {
	if len(data)%c.k != 0 {
		return fmt.Errorf("fec: input of %d bytes is not a multiple of k=%d", len(data), c.k)
	}
	if err := c.f.EncodeSingle(data, out, num); err != nil {
		return fmt.Errorf("fec: %w", err)
	}
	return nil
}

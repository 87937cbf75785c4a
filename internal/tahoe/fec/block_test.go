package fec

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestEncodeBlockMatchesEncode: every block EncodeBlock writes is Encode's,
// and a wrong output length or block number is refused.
func TestEncodeBlockMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, kn := range [][2]int{{1, 1}, {3, 10}, {101, 256}} {
		c, err := New(kn[0], kn[1])
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, kn[0]*53)
		rng.Read(data)
		want, err := c.Encode(data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			out := bytes.Repeat([]byte{0xff}, 53) // stale bytes must be overwritten
			if err := c.EncodeBlock(data, out, i); err != nil || !bytes.Equal(out, want[i]) {
				t.Fatalf("%v block %d differs: %v", kn, i, err)
			}
		}
	}
	c, _ := New(3, 5)
	if c.EncodeBlock(make([]byte, 9), make([]byte, 2), 4) == nil {
		t.Error("short output accepted")
	}
	if c.EncodeBlock(make([]byte, 9), make([]byte, 3), 5) == nil {
		t.Error("block number 5 of 5 accepted")
	}
	if c.EncodeBlock(make([]byte, 8), make([]byte, 3), 0) == nil {
		t.Error("unpadded input accepted")
	}
}

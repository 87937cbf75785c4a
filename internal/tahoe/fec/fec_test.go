package fec

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestRoundTripEveryKSubsetShape(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, kn := range [][2]int{{1, 1}, {3, 10}, {7, 10}, {101, 256}, {255, 255}, {2, 255}} {
		k, n := kn[0], kn[1]
		c, err := New(k, n)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, k*37)
		rng.Read(data)
		blocks, err := c.Encode(data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bytes.Join(blocks[:k], nil), data) {
			t.Fatalf("%d/%d: code is not systematic", k, n)
		}
		// Decode from the last k blocks (mostly parity) and from a random k.
		for _, perm := range [][]int{lastK(k, n), rng.Perm(n)[:k]} {
			sub := map[int][]byte{}
			for _, i := range perm {
				sub[i] = blocks[i]
			}
			got, err := c.Decode(sub)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d/%d from %v: %v", k, n, perm, err)
			}
		}
	}
}

func lastK(k, n int) []int {
	var out []int
	for i := n - k; i < n; i++ {
		out = append(out, i)
	}
	return out
}

func TestErrors(t *testing.T) {
	for _, kn := range [][2]int{{0, 1}, {2, 1}, {1, 257}} {
		if _, err := New(kn[0], kn[1]); err == nil {
			t.Errorf("New%v succeeded", kn)
		}
	}
	c, _ := New(3, 5)
	if _, err := c.Encode(make([]byte, 4)); err == nil {
		t.Error("unpadded input accepted")
	}
	if _, err := c.Decode(map[int][]byte{0: {1}, 1: {2}}); err == nil {
		t.Error("decoded from too few blocks")
	}
	if _, err := c.Decode(map[int][]byte{0: {1}, 1: {2}, 9: {3}}); err == nil {
		t.Error("accepted out-of-range block number")
	}
	if _, err := c.Decode(map[int][]byte{0: {1}, 1: {2}, 2: {3, 4}}); err == nil {
		t.Error("accepted blocks of different sizes")
	}
}

package grid

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRTWBodyCanonical: the piecewise read-test-write body is byte for
// byte the canonical CBOR encoding of the same request (what real Tahoe
// servers were shown to accept in the captures), for vectors of every
// size class, and the big write data travels as the caller's own slices.
func TestRTWBodyCanonical(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 23, 24, 255, 256, 4095, 4096, 70000}
	for round := range 40 {
		tw := map[uint64]TestWrite{}
		for range 1 + r.IntN(5) {
			n := uint64(r.IntN(300))
			var v TestWrite
			for range r.IntN(3) {
				spec := make([]byte, sizes[r.IntN(5)])
				v.Test = append(v.Test, TestVector{Offset: r.Uint64N(1 << uint(r.IntN(40))), Size: uint64(len(spec)), Specimen: spec})
			}
			for range r.IntN(4) {
				d := make([]byte, sizes[r.IntN(len(sizes))])
				for i := range d {
					d[i] = byte(r.Uint32())
				}
				v.Write = append(v.Write, WriteVector{Offset: r.Uint64(), Data: d})
			}
			if r.IntN(2) == 0 {
				l := r.Uint64N(1 << 33)
				v.NewLength = &l
			}
			tw[n] = fillVectors(v)
		}
		rv := []ReadVector{}
		for range r.IntN(3) {
			rv = append(rv, ReadVector{Offset: r.Uint64N(100000), Size: r.Uint64N(1 << 20)})
		}
		want, err := encMode.Marshal(rtwReq{TestWriteVectors: tw, ReadVector: rv})
		if err != nil {
			t.Fatal(err)
		}
		parts, size := encodeRTWBody(tw, rv)
		got := bytes.Join(parts, nil)
		if size != int64(len(got)) || !bytes.Equal(got, want) {
			t.Fatalf("round %d: piecewise body (%d bytes, size %d) differs from canonical CBOR (%d bytes)", round, len(got), size, len(want))
		}
		for _, v := range tw {
			for _, w := range v.Write {
				if len(w.Data) >= 4096 && !sharesPiece(parts, w.Data) {
					t.Fatalf("round %d: %d bytes of write data were copied into the body", round, len(w.Data))
				}
			}
		}
	}
}

func sharesPiece(parts [][]byte, data []byte) bool {
	for _, p := range parts {
		if len(p) == len(data) && &p[0] == &data[0] {
			return true
		}
	}
	return false
}

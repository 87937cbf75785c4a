package chk

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
)

// streamShares encodes data with a Stream and assembles the shares it
// would write, checking that each piece lands where the share size says.
func streamShares(t *testing.T, data, secret []byte, p Params) ([][]byte, *Stream, *Tail) {
	t.Helper()
	s, err := NewStream(bytes.NewReader(data), uint64(len(data)), secret, p)
	if err != nil {
		t.Fatal(err)
	}
	shares := make([][]byte, p.N)
	for i := range shares {
		shares[i] = append(shares[i], s.Header()...)
	}
	for {
		blocks, off, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range blocks {
			if uint64(len(shares[i])) != off {
				t.Fatalf("share %d: block at %d, share has %d bytes", i, off, len(shares[i]))
			}
			shares[i] = append(shares[i], b...)
		}
	}
	tail, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for i := range shares {
		if uint64(len(shares[i])) != tail.Offset {
			t.Fatalf("share %d: tail at %d, share has %d bytes", i, tail.Offset, len(shares[i]))
		}
		shares[i] = append(shares[i], tail.Shares[i]...)
		if uint64(len(shares[i])) != s.ShareSize() {
			t.Fatalf("share %d is %d bytes, ShareSize said %d", i, len(shares[i]), s.ShareSize())
		}
	}
	return shares, s, tail
}

// TestStreamMatchesEncode: the streamed shares, key and UEB hash are
// byte for byte the whole-file encoder's, at sizes around the segment
// boundaries and for several encodings.
func TestStreamMatchesEncode(t *testing.T) {
	secret := []byte("sixteen byte key")
	const seg = 128 << 10
	sizes := []int{1, 56, 1000, seg - 1, seg, seg + 1, 2*seg - 1, 2 * seg, 2*seg + 1, 3<<20 + 7}
	for _, p := range []Params{{K: 3, N: 10, MaxSegmentSize: seg}, {K: 1, N: 1}, {K: 2, N: 3}, {K: 7, N: 13, MaxSegmentSize: seg}} {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%d-of-%d/%d", p.K, p.N, size), func(t *testing.T) {
				data := make([]byte, size)
				rand.Read(data)
				want, err := Encode(data, secret, p)
				if err != nil {
					t.Fatal(err)
				}
				got, s, tail := streamShares(t, data, secret, p)
				if !bytes.Equal(s.Key(), want.Key) || !bytes.Equal(s.StorageIndex(), want.StorageIndex) || !bytes.Equal(tail.UEBHash, want.UEBHash) {
					t.Fatal("key, storage index or UEB hash differ")
				}
				for i := range got {
					if !bytes.Equal(got[i], want.Shares[i]) {
						t.Fatalf("share %d differs (%d vs %d bytes)", i, len(got[i]), len(want.Shares[i]))
					}
				}
			})
		}
	}
}

// TestStreamFinishEarly: Finish before the last segment is a usage error,
// not a share with missing hashes.
func TestStreamFinishEarly(t *testing.T) {
	data := make([]byte, 300<<10)
	s, err := NewStream(bytes.NewReader(data), uint64(len(data)), nil, Params{K: 3, N: 10, MaxSegmentSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(); err == nil {
		t.Fatal("Finish after one of three segments succeeded")
	}
}

// TestStreamShortInput: input shorter than the size given (a file that
// shrank) is an error in either pass, never stale bytes encoded.
func TestStreamShortInput(t *testing.T) {
	data := make([]byte, 300<<10)
	p := Params{K: 3, N: 10, MaxSegmentSize: 128 << 10}
	if _, err := NewStream(bytes.NewReader(data), uint64(len(data))+1, nil, p); err == nil {
		t.Fatal("key pass over a short input succeeded")
	}
	r := &shrinking{data: data}
	s, err := NewStream(r, uint64(len(data)), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	r.data = data[:200<<10]
	for err == nil {
		_, _, err = s.Next()
	}
	if err == io.EOF {
		t.Fatal("encoding a shrunk input reached the end")
	}
}

type shrinking struct{ data []byte }

func (s *shrinking) ReadAt(b []byte, off int64) (int, error) {
	return bytes.NewReader(s.data).ReadAt(b, off)
}

// TestStreamNextIntoBadBuffers: NextInto refuses buffers of the wrong
// number or length without consuming the segment, so the shares encoded
// afterwards (through NextInto, into stale buffers) are still Encode's.
func TestStreamNextIntoBadBuffers(t *testing.T) {
	data := make([]byte, 300<<10+5)
	rand.Read(data)
	p := Params{K: 3, N: 10, MaxSegmentSize: 128 << 10}
	want, err := Encode(data, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(bytes.NewReader(data), uint64(len(data)), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	bl := int(s.BlockLen())
	short := make([][]byte, p.N)
	for i := range short {
		short[i] = make([]byte, bl)
	}
	short[4] = short[4][:bl-1]
	for _, bad := range [][][]byte{short[:p.N-1], short} {
		if _, err := s.NextInto(bad); err == nil {
			t.Fatalf("NextInto accepted %d buffers, the fifth of %d bytes", len(bad), len(bad[4]))
		}
	}
	shares := make([][]byte, p.N)
	for i := range shares {
		shares[i] = s.Header()
	}
	bufs := make([][]byte, p.N)
	for i := range bufs {
		bufs[i] = bytes.Repeat([]byte{0xee}, bl) // stale bytes must not leak into a block
	}
	for s.BlockLen() > 0 {
		dst := make([][]byte, p.N)
		for i := range dst {
			dst[i] = bufs[i][:s.BlockLen()]
		}
		if _, err := s.NextInto(dst); err != nil {
			t.Fatal(err)
		}
		for i := range shares {
			shares[i] = append(shares[i], dst[i]...)
		}
	}
	tail, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for i := range shares {
		if got := append(shares[i], tail.Shares[i]...); !bytes.Equal(got, want.Shares[i]) {
			t.Fatalf("share %d differs from Encode's", i)
		}
	}
	if !bytes.Equal(tail.UEBHash, want.UEBHash) {
		t.Fatal("UEB hash differs")
	}
}

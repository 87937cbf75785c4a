package chk

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// chkVectors is the CHK cases of Tahoe's capability test vectors.
func chkVectors(t testing.TB) []testutil.CapVector {
	var out []testutil.CapVector
	for _, v := range testutil.CapVectors(t) {
		if v.Format.Kind == "chk" {
			out = append(out, v)
		}
	}
	return out
}

// capString formats a CHK read cap (the cap package is someone else's).
func capString(e *Encoded) string {
	return fmt.Sprintf("URI:CHK:%s:%s:%d:%d:%d", base32.Encode(e.Key), base32.Encode(e.UEBHash), e.K, e.N, e.Size)
}

func TestCapabilityVectors(t *testing.T) {
	vs := chkVectors(t)
	if len(vs) != 120 {
		t.Fatalf("found %d CHK vectors, want 120", len(vs))
	}
	for i, v := range vs {
		name := fmt.Sprintf("%03d-%d-of-%d-%d", i, v.Zfec.Required, v.Zfec.Total, v.Sample.Length)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && v.Sample.Length > 4<<20 && v.Zfec.Total > 10 {
				t.Skip("large many-share vector skipped in -short mode")
			}
			secret := v.ConvergenceSecret(t)
			pt := v.Plaintext(t)
			p := Params{K: v.Zfec.Required, N: v.Zfec.Total, MaxSegmentSize: v.Zfec.SegmentSize}
			e, err := Encode(pt, secret, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := capString(e); got != v.Expected {
				t.Errorf("cap\n got %s\nwant %s", got, v.Expected)
			}
		})
	}
}

// TestCapabilityVectorsStreamed: the streaming encoder names every vector
// file exactly as Tahoe does.
func TestCapabilityVectorsStreamed(t *testing.T) {
	for i, v := range chkVectors(t) {
		name := fmt.Sprintf("%03d-%d-of-%d-%d", i, v.Zfec.Required, v.Zfec.Total, v.Sample.Length)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && v.Sample.Length > 4<<20 && v.Zfec.Total > 10 {
				t.Skip("large many-share vector skipped in -short mode")
			}
			pt := v.Plaintext(t)
			p := Params{K: v.Zfec.Required, N: v.Zfec.Total, MaxSegmentSize: v.Zfec.SegmentSize}
			s, err := NewStream(bytes.NewReader(pt), uint64(len(pt)), v.ConvergenceSecret(t), p)
			if err != nil {
				t.Fatal(err)
			}
			for err == nil {
				_, _, err = s.Next()
			}
			if err != io.EOF {
				t.Fatal(err)
			}
			tail, err := s.Finish()
			if err != nil {
				t.Fatal(err)
			}
			e := &Encoded{Key: s.Key(), UEBHash: tail.UEBHash, K: p.K, N: p.N, Size: s.Size()}
			if got := capString(e); got != v.Expected {
				t.Errorf("cap\n got %s\nwant %s", got, v.Expected)
			}
		})
	}
}

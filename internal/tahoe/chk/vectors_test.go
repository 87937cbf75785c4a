package chk

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// capVector is one CHK case of Tahoe's capability test vectors.
type capVector struct {
	Convergence string `yaml:"convergence"`
	Expected    string `yaml:"expected"`
	Format      struct {
		Kind string `yaml:"kind"`
	} `yaml:"format"`
	Sample struct {
		Length int    `yaml:"length"`
		Seed   string `yaml:"seed"`
	} `yaml:"sample"`
	Zfec struct {
		Required    int `yaml:"required"`
		Total       int `yaml:"total"`
		SegmentSize int `yaml:"segmentSize"`
	} `yaml:"zfec"`
}

func loadCHKVectors(t testing.TB) []capVector {
	var doc struct {
		Vector []capVector `yaml:"vector"`
	}
	if err := yaml.Unmarshal(testutil.ReadTestdata(t, "tahoe-capability-vectors.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	var out []capVector
	for _, v := range doc.Vector {
		if v.Format.Kind == "chk" {
			out = append(out, v)
		}
	}
	return out
}

// samplePlaintext repeats seed and cuts it to n bytes.
func samplePlaintext(t testing.TB, seed64 string, n int) []byte {
	seed, err := base64.StdEncoding.DecodeString(seed64)
	if err != nil || len(seed) == 0 {
		t.Fatalf("bad seed %q: %v", seed64, err)
	}
	return bytes.Repeat(seed, n/len(seed)+1)[:n]
}

// capString formats a CHK read cap (the cap package is someone else's).
func capString(e *Encoded) string {
	return fmt.Sprintf("URI:CHK:%s:%s:%d:%d:%d", base32.Encode(e.Key), base32.Encode(e.UEBHash), e.K, e.N, e.Size)
}

func TestCapabilityVectors(t *testing.T) {
	vs := loadCHKVectors(t)
	if len(vs) != 120 {
		t.Fatalf("found %d CHK vectors, want 120", len(vs))
	}
	for i, v := range vs {
		name := fmt.Sprintf("%03d-%d-of-%d-%d", i, v.Zfec.Required, v.Zfec.Total, v.Sample.Length)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && v.Sample.Length > 4<<20 && v.Zfec.Total > 10 {
				t.Skip("large many-share vector skipped in -short mode")
			}
			secret, err := base64.StdEncoding.DecodeString(v.Convergence)
			if err != nil {
				t.Fatal(err)
			}
			pt := samplePlaintext(t, v.Sample.Seed, v.Sample.Length)
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

var _ = os.Getenv

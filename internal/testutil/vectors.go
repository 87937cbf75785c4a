package testutil

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"go.yaml.in/yaml/v3"
)

// CapVector is one case of Tahoe-LAFS's tahoe-capability-vectors.yaml.
type CapVector struct {
	Expected    string `yaml:"expected"`    // the cap Tahoe produced
	Convergence string `yaml:"convergence"` // base64; CHK only
	Format      struct {
		Kind   string `yaml:"kind"` // "chk" or "ssk"
		Params *struct {
			Format string `yaml:"format"` // "sdmf" or "mdmf"
			Key    string `yaml:"key"`    // PEM RSA private key
		} `yaml:"params"`
	} `yaml:"format"`
	Sample struct {
		Seed   string `yaml:"seed"` // base64
		Length int    `yaml:"length"`
	} `yaml:"sample"`
	Zfec struct {
		Required    int `yaml:"required"`
		Total       int `yaml:"total"`
		SegmentSize int `yaml:"segmentSize"`
	} `yaml:"zfec"`
}

// SSKFormat is "sdmf" or "mdmf" for a mutable case, "" otherwise.
func (v *CapVector) SSKFormat() string {
	if v.Format.Kind != "ssk" || v.Format.Params == nil {
		return ""
	}
	return v.Format.Params.Format
}

// KeyPEM is the mutable case's PEM private key.
func (v *CapVector) KeyPEM() []byte {
	if v.Format.Params == nil {
		return nil
	}
	return []byte(v.Format.Params.Key)
}

// Plaintext is the case's sample: the seed repeated and cut to length.
func (v *CapVector) Plaintext(t testing.TB) []byte {
	t.Helper()
	seed, err := base64.StdEncoding.DecodeString(v.Sample.Seed)
	if err != nil || len(seed) == 0 {
		t.Fatalf("vector %s: bad seed %q: %v", v.Expected, v.Sample.Seed, err)
	}
	return bytes.Repeat(seed, v.Sample.Length/len(seed)+1)[:v.Sample.Length]
}

// ConvergenceSecret is the CHK case's decoded convergence secret.
func (v *CapVector) ConvergenceSecret(t testing.TB) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v.Convergence)
	if err != nil {
		t.Fatalf("vector %s: bad convergence: %v", v.Expected, err)
	}
	return b
}

// CapVectors loads all 360 cases (120 CHK, 120 SDMF, 120 MDMF).
func CapVectors(t testing.TB) []CapVector {
	t.Helper()
	var doc struct {
		Vector []CapVector `yaml:"vector"`
	}
	if err := yaml.Unmarshal(ReadTestdata(t, "tahoe-capability-vectors.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vector) != 360 {
		t.Fatalf("got %d capability vectors, want 360", len(doc.Vector))
	}
	return doc.Vector
}

// GridChild is a directory entry as Tahoe's web API listed it.
type GridChild struct {
	Kind  string  `json:"kind"`
	ROURI *string `json:"ro_uri"`
	RWURI *string `json:"rw_uri"`
}

// GridObject is one object of testdata/grid/objects.json, captured from a
// real Tahoe-LAFS 1.20 grid.
type GridObject struct {
	Name            string               `json:"name"`
	Cap             string               `json:"cap"` // write cap where there is one
	Readcap         string               `json:"readcap"`
	Verifycap       string               `json:"verifycap"`
	StorageIndex    string               `json:"storage_index"`
	Kind            string               `json:"kind"`   // "filenode" or "dirnode"
	Format          string               `json:"format"` // "SDMF", "MDMF", "CHK"; "" for directories
	Mutable         bool                 `json:"mutable"`
	Size            uint64               `json:"size"`
	PlaintextSHA256 string               `json:"plaintext_sha256"`
	PlaintextFile   string               `json:"plaintext_file"` // under testdata/grid/
	Note            string               `json:"note"`
	HistorySHA256   []string             `json:"history_sha256"`
	Children        map[string]GridChild `json:"children"`
}

// GridObjects loads testdata/grid/objects.json.
func GridObjects(t testing.TB) []GridObject {
	t.Helper()
	var doc struct {
		Objects []GridObject `json:"objects"`
	}
	if err := json.Unmarshal(ReadTestdata(t, "grid", "objects.json"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Objects) == 0 {
		t.Fatal("objects.json lists no objects")
	}
	return doc.Objects
}

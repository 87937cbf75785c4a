package testgrid

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// serversYAML is the schema of a Tahoe node's private/servers.yaml.
type serversYAML struct {
	Storage map[string]struct {
		Ann annYAML `yaml:"ann"`
	} `yaml:"storage"`
}

type annYAML struct {
	Nickname        string   `yaml:"nickname"`
	FURL            string   `yaml:"anonymous-storage-FURL,omitempty"`
	NURLs           []string `yaml:"anonymous-storage-NURLs"`
	PermutationSeed string   `yaml:"permutation-seed-base32,omitempty"`
}

// RealGrid starts five servers serving the captures of the real Tahoe
// 1.20 grid (testdata/grid): server i is storage<i+1> with that node's
// shares, server id, permutation seed and anonymous-storage-FURL, so
// write enablers derive as Tahoe's did. Only the NURLs are new.
func RealGrid(t testing.TB) *Grid {
	t.Helper()
	var y serversYAML
	if err := yaml.Unmarshal(testutil.ReadTestdata(t, "grid", "servers.yaml"), &y); err != nil {
		t.Fatalf("testgrid: servers.yaml: %v", err)
	}
	specs := make([]Spec, 5)
	for id, e := range y.Storage {
		var i int
		if _, err := fmt.Sscanf(e.Ann.Nickname, "storage%d", &i); err != nil || i < 1 || i > 5 {
			t.Fatalf("testgrid: servers.yaml: unexpected nickname %q", e.Ann.Nickname)
		}
		specs[i-1] = Spec{Nickname: e.Ann.Nickname, ID: id, FURL: e.Ann.FURL, PermutationSeed: e.Ann.PermutationSeed,
			Seed: testutil.Testdata(t, "grid", "shares", e.Ann.Nickname)}
	}
	return Start(t, specs)
}

// OldSDMF is the old-Tahoe SDMF file of testdata/sdmf-old-shares.json.
type OldSDMF struct {
	Cap       string
	Plaintext []byte
	Shares    map[int][]byte // share files (containers) by share number
}

// LoadOldSDMF reads testdata/sdmf-old-shares.json.
func LoadOldSDMF(t testing.TB) *OldSDMF {
	t.Helper()
	var j struct {
		Cap       string            `json:"cap"`
		Plaintext string            `json:"plaintext_base64"`
		Shares    map[string]string `json:"shares_base64"`
	}
	if err := json.Unmarshal(testutil.ReadTestdata(t, "sdmf-old-shares.json"), &j); err != nil {
		t.Fatal(err)
	}
	o := &OldSDMF{Cap: j.Cap, Shares: map[int][]byte{}}
	var err error
	if o.Plaintext, err = base64.StdEncoding.DecodeString(j.Plaintext); err != nil {
		t.Fatal(err)
	}
	for k, v := range j.Shares {
		n, _ := strconv.Atoi(k)
		if o.Shares[n], err = base64.StdEncoding.DecodeString(v); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// SDMFOld starts n servers and spreads the ten shares of the old-Tahoe
// SDMF file over them round robin (share i on server i mod n).
func SDMFOld(t testing.TB, n int) (*Grid, *OldSDMF) {
	t.Helper()
	o := LoadOldSDMF(t)
	g := New(t, n)
	c, err := cap.Parse(o.Cap)
	if err != nil {
		t.Fatal(err)
	}
	for num, file := range o.Shares {
		g.PutShare(num%n, c.StorageIndex(), num, file)
	}
	return g, o
}

// WriteServersYAML writes the grid (hung servers included) as a Tahoe
// node's private/servers.yaml into dir and returns its path.
func (g *Grid) WriteServersYAML(dir string) string {
	g.t.Helper()
	out := map[string]map[string]map[string]annYAML{"storage": {}}
	for _, s := range g.Grid().Servers {
		var nurls []string
		for _, n := range s.NURLs {
			nurls = append(nurls, n.String())
		}
		out["storage"][s.ID] = map[string]annYAML{"ann": {Nickname: s.Nickname, FURL: s.FURL, NURLs: nurls,
			PermutationSeed: base32.Encode(s.PermutationSeed)}}
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		g.t.Fatal(err)
	}
	p := filepath.Join(dir, "servers.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// ServerFlags returns "--server NURL" pairs for every server (hung ones
// included), in server-id order.
func (g *Grid) ServerFlags() []string {
	var out []string
	for _, s := range g.Grid().Servers {
		out = append(out, "--server", s.NURLs[0].String())
	}
	return out
}

// Running returns the indexes of the servers that are serving.
func (g *Grid) Running() []int {
	var out []int
	for _, s := range g.Servers {
		if s.Running() {
			out = append(out, s.Index)
		}
	}
	sort.Ints(out)
	return out
}

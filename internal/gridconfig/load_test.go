package gridconfig

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// want describes the captured 5-server grid, from its servers.yaml.
var want = []struct {
	id, nick, spki, tub, hint string
}{
	{"v0-5b6ugaotpfw6jq2xcuczzfn64iwxnx7jykvj2ix4igleetprfrra", "storage4", "cdpsYT6enBFlGsf516TrAytYkxtRTmf29UlvdNzeM3s", "qkg2p25342myv5xw6xj3pry2njiocbrk", "127.0.0.1:20104"},
	{"v0-6x4oc6w2r64456xvdik3drpiy3hd47agq4t43nnmtoyk6v6jkt3a", "storage3", "-4Gkoo6_Y_auhwif5nGWp-bsPM286V2O-MnSugrzZvc", "2k37sukvoxwge4lnmcv5352on3g5eg7o", "127.0.0.1:20103"},
	{"v0-p5ddhqpvstssszd5saypx453klyz4fnfydgifff357uv76fvkniq", "storage2", "xgyUPZK_NbHX8r-eEF-mEy54DPT8lxj2BrIXQfiyX8c", "fj2rt4ojvso5o5mxe644nvg6is6uvi25", "127.0.0.1:20102"},
	{"v0-rfu6li7sewtbwwdo33avlyqycpljgpxqxautee27nhk5ilvczaka", "storage1", "cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg", "zh6cjhq7hklxkmtvjcwhtcuk7zlieaev", "127.0.0.1:20101"},
	{"v0-sreukjwgqjoyb5p7wpvuv2jpmndsgjed5g2qmtiax5nqanvqmqgq", "storage5", "Bil6JBQOqFUZnwTyiGCm3_5wSRpgNeAGrYkd-NKYHYY", "mzrnxmrwkgcqlp6yn3kczzce23svmss3", "127.0.0.1:20105"},
}

// checkGrid checks g is the captured grid, fully described.
func checkGrid(t *testing.T, g *grid.Grid) {
	t.Helper()
	if len(g.Servers) != len(want) {
		t.Fatalf("%d servers, want %d", len(g.Servers), len(want))
	}
	for i, w := range want {
		s := g.Servers[i]
		if s.ID != w.id || s.Nickname != w.nick || s.Unreachable != "" || len(s.NURLs) != 1 {
			t.Fatalf("server %d: %+v, want %s %s", i, s, w.id, w.nick)
		}
		if n := s.NURLs[0]; n.SPKIHash != w.spki || n.Hints[0] != w.hint || n.Swissnum == "" {
			t.Errorf("%s NURL %s", w.nick, n.Redacted())
		}
		if base32.Encode(s.TubID) != w.tub || !bytes.Equal(s.WriteEnablerID(), s.TubID) {
			t.Errorf("%s tub id %s, want %s", w.nick, base32.Encode(s.TubID), w.tub)
		}
	}
	// storage1's own files record its node id and permutation seed.
	s1 := g.Lookup(want[3].id)
	nodeid := strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "storage1", "my_nodeid")))
	seed := strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "storage1", "permutation-seed")))
	if base32.Encode(s1.TubID) != nodeid || base32.Encode(s1.PermutationSeed) != seed {
		t.Errorf("storage1 tub id %s seed %s; its node dir says %s %s",
			base32.Encode(s1.TubID), base32.Encode(s1.PermutationSeed), nodeid, seed)
	}
}

func load(t *testing.T, s Sources) (*Config, error) {
	t.Helper()
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	if s.Home == "" {
		s.Home = t.TempDir()
	}
	return Load(context.Background(), s)
}

func TestGridFile(t *testing.T) {
	c, err := load(t, Sources{GridFile: testutil.Testdata(t, "grid", "servers.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	checkGrid(t, c.Grid)
	if c.Encoding != DefaultEncoding || c.Convergence != nil {
		t.Errorf("grid file encoding %+v convergence %x", c.Encoding, c.Convergence)
	}
}

// nodeDirFixture lays out a client node directory as Tahoe 1.20 does.
func nodeDirFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tahoe.cfg", "private/introducer_default_cache.yaml", "private/convergence"} {
		data := testutil.ReadTestdata(t, "grid", "nodes", "client", f)
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNodeDir(t *testing.T) {
	dir := nodeDirFixture(t)
	c, err := load(t, Sources{NodeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkGrid(t, c.Grid)
	if c.Encoding != (Encoding{Needed: 3, Happy: 4, Total: 5}) {
		t.Errorf("encoding %+v, want 3/4/5", c.Encoding)
	}
	conv := strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "client", "private", "convergence")))
	if base32.Encode(c.Convergence) != conv {
		t.Errorf("convergence %x", c.Convergence)
	}
	// Static servers in private/servers.yaml win over cached announcements.
	static := "storage:\n  " + want[0].id + ":\n    ann:\n      nickname: renamed\n      anonymous-storage-FURL: pb://" + want[0].tub + "@tcp:127.0.0.1:1/x\n"
	os.WriteFile(filepath.Join(dir, "private", "servers.yaml"), []byte(static), 0o600)
	c, err = load(t, Sources{NodeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Grid.Lookup(want[0].id)
	if s.Nickname != "renamed" || !strings.Contains(s.Unreachable, "Foolscap") || len(c.Grid.Servers) != 5 {
		t.Errorf("static server %+v", s)
	}
	if len(c.Grid.Reachable()) != 4 {
		t.Errorf("%d reachable, want 4", len(c.Grid.Reachable()))
	}
}

func serverArgs(t *testing.T) []string {
	var args []string
	data := string(testutil.ReadTestdata(t, "grid", "servers.yaml"))
	for _, line := range strings.Split(data, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "- pb://") {
			args = append(args, strings.TrimPrefix(l, "- "))
		}
	}
	return args
}

func TestServerFlags(t *testing.T) {
	args := serverArgs(t)
	if len(args) != 5 {
		t.Fatalf("%d NURLs in servers.yaml", len(args))
	}
	// Alone, NURLs give spki- ids and seeds from the SPKI hash.
	c, err := load(t, Sources{Servers: args})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Grid.Servers) != 5 || c.Source != "--server" {
		t.Fatalf("%d servers from %s", len(c.Grid.Servers), c.Source)
	}
	for _, s := range c.Grid.Servers {
		if !strings.HasPrefix(s.ID, "spki-") || s.TubID != nil || len(s.WriteEnablerID()) != 20 || len(s.PermutationSeed) != 32 {
			t.Errorf("NURL-only server %+v", s)
		}
	}
	// With the grid file, the same servers are fully described.
	c, err = load(t, Sources{Servers: args, GridFile: testutil.Testdata(t, "grid", "servers.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	checkGrid(t, c.Grid)
	// --server takes precedence: a subset of NURLs is the whole grid.
	c, err = load(t, Sources{Servers: args[:2], NodeDir: nodeDirFixture(t)})
	if err != nil || len(c.Grid.Servers) != 2 || c.Encoding.Total != 5 {
		t.Fatalf("subset: %v, %+v", err, c)
	}
}

func TestPrecedence(t *testing.T) {
	gridFile := testutil.Testdata(t, "grid", "servers.yaml")
	nodeDir := nodeDirFixture(t)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".tahoe"), 0o700) // an empty ~/.tahoe: an error if used
	for _, tc := range []struct {
		name   string
		s      Sources
		source string
	}{
		{"grid beats node dir", Sources{GridFile: gridFile, NodeDir: nodeDir}, "grid file"},
		{"node dir flag", Sources{NodeDir: nodeDir, Getenv: env(map[string]string{EnvGrid: "/nonexistent"})}, "node directory " + nodeDir},
		{"env node dir beats env grid", Sources{Getenv: env(map[string]string{EnvNodeDir: nodeDir, EnvGrid: "/nonexistent"})}, "node directory " + nodeDir},
		{"env grid last", Sources{Getenv: env(map[string]string{EnvGrid: gridFile}), Home: t.TempDir()}, "grid file"},
		{"~/.tahoe before env grid", Sources{Getenv: env(map[string]string{EnvGrid: gridFile}), Home: home}, "error"},
	} {
		c, err := load(t, tc.s)
		got := "error"
		if err == nil {
			got = c.Source
		}
		if !strings.HasPrefix(got, tc.source) {
			t.Errorf("%s: source %q (%v), want %q", tc.name, got, err, tc.source)
		}
	}
	if _, err := load(t, Sources{}); !errkind.Is(err, errkind.Usage) {
		t.Errorf("no sources: %v", err)
	}
}

func TestWatchServers(t *testing.T) {
	args := serverArgs(t)
	watch := strings.Replace(args[1], "127.0.0.1:20103", "127.0.0.1:30103", 1)
	c, err := load(t, Sources{GridFile: testutil.Testdata(t, "grid", "servers.yaml"), WatchServers: []string{watch}})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Grid.LookupSPKI(want[1].spki); len(s.WatchNURLs) != 1 || s.WatchNURLs[0].Hints[0] != "127.0.0.1:30103" {
		t.Fatalf("watch NURLs %v", s.WatchNURLs)
	}
	other := "pb://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:1/x#v=1"
	if _, err := load(t, Sources{Servers: args, WatchServers: []string{other}}); !errkind.Is(err, errkind.Usage) {
		t.Fatalf("unpaired watch server: %v", err)
	}
}

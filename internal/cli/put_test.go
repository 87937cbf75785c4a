package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/chk"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// writeEnv keeps the secrets tahoe-watch makes on first use out of the
// user's config directory.
func writeEnv(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv(EnvConvergence, "")
	return dir
}

// runIn runs a command line with stdin.
func runIn(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb}, args)
	return code, out.String(), errb.String()
}

// sskVectors returns the SDMF and MDMF cases of the capability vectors.
func sskVectors(t *testing.T) []testutil.CapVector {
	var out []testutil.CapVector
	for _, v := range testutil.CapVectors(t) {
		if v.SSKFormat() != "" {
			out = append(out, v)
		}
	}
	return out
}

// keyFile writes a PEM key to a temporary file.
func keyFile(t *testing.T, pem []byte) string {
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPutPrivateKeyVectors: with Tahoe's keys, put prints exactly the
// caps Tahoe made.
func TestPutPrivateKeyVectors(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 3)
	grid := g.WriteServersYAML(t.TempDir())
	count := map[string]int{}
	for _, v := range sskVectors(t) {
		if count[v.SSKFormat()] == 20 {
			continue
		}
		count[v.SSKFormat()]++
		code, out, errOut := runIn(t, []byte("vector"), "put", "--grid", grid, "--format", v.SSKFormat(), "--private-key", keyFile(t, v.KeyPEM()))
		if code != ExitOK || out != v.Expected+"\n" {
			t.Fatalf("put --format %s: exit %d, printed %q, want %q (%s)", v.SSKFormat(), code, out, v.Expected, errOut)
		}
	}
	if count["sdmf"] != 20 || count["mdmf"] != 20 {
		t.Fatalf("checked %v", count)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestPutUpdateRealGrid replaces mutables Tahoe wrote, on servers keeping
// the write enablers Tahoe set, and reads them back with cat.
func TestPutUpdateRealGrid(t *testing.T) {
	writeEnv(t)
	g := testgrid.RealGrid(t)
	for _, o := range testutil.GridObjects(t) {
		c, err := cap.Parse(o.Cap)
		if err != nil || !c.IsMutable() || c.IsDir() {
			continue
		}
		data := random(3000)
		args := gridArgs(t, g, "put", o.Cap)
		code, out, errOut := runIn(t, data, args...)
		if code != ExitOK || out != "" {
			t.Fatalf("put %s: exit %d, out %q, err %s", o.Name, code, out, errOut)
		}
		code, out, errOut = run(t, gridArgs(t, g, "cat", o.Readcap)...)
		if code != ExitOK || out != string(data) {
			t.Fatalf("cat %s after put: exit %d, %d bytes, err %s", o.Name, code, len(out), errOut)
		}
	}
}

// TestPutRoundTrip writes new mutables and immutables of several sizes
// and reads them back with cat.
func TestPutRoundTrip(t *testing.T) {
	g := testgrid.New(t, 5)
	writeEnv(t)
	t.Setenv(EnvConvergence, filepath.Join(t.TempDir(), "convergence"))
	grid := g.WriteServersYAML(t.TempDir())
	sizes := []int{0, 1024, 1 << 20}
	if !testing.Short() {
		sizes = append(sizes, 20<<20)
	}
	vectors := sskVectors(t)
	code, dir, errOut := run(t, "mkdir", "--grid", grid)
	if code != ExitOK {
		t.Fatalf("mkdir: %d %s", code, errOut)
	}
	dir = strings.TrimSpace(dir)
	for i, size := range sizes {
		data := random(size)
		for j, f := range []string{"sdmf", "mdmf"} {
			code, out, errOut := runIn(t, data, "put", "--grid", grid, "--format", f, "--private-key", keyFile(t, vectors[2*i+j].KeyPEM()))
			if code != ExitOK {
				t.Fatalf("put %s %d: %s", f, size, errOut)
			}
			mustCat(t, grid, strings.TrimSpace(out), data)
		}
		name := dir + "/sub/f" + string(rune('a'+i))
		code, out, errOut := runIn(t, data, "put", "--grid", grid, "-", name)
		if code != ExitOK {
			t.Fatalf("put - %s: %s", name, errOut)
		}
		c := cap.MustParse(strings.TrimSpace(out))
		if !c.IsReadOnly() {
			t.Fatalf("put into a directory printed a write cap: %s", out)
		}
		if (size <= 55) != (c.Kind() == cap.KindLIT) {
			t.Errorf("%d bytes stored as %v", size, c.Kind())
		}
		mustCat(t, grid, name, data)
	}
}

func mustCat(t *testing.T, grid, target string, want []byte) {
	t.Helper()
	code, out, errOut := run(t, "cat", "--grid", grid, target)
	if code != ExitOK || out != string(want) {
		t.Fatalf("cat %s: exit %d, %d bytes (want %d), %s", cap.Abbrev(cap.MustParse(strings.Split(target, "/")[0])), code, len(out), len(want), errOut)
	}
}

func TestMkdirPutMutableRm(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 3)
	grid := g.WriteServersYAML(t.TempDir())
	vectors := sskVectors(t)
	code, dir, errOut := runIn(t, nil, "mkdir", "--grid", grid, "--format", "mdmf")
	if code != ExitOK || !strings.HasPrefix(dir, "URI:DIR2-MDMF:") {
		t.Fatalf("mkdir: %d %q %s", code, dir, errOut)
	}
	dir = strings.TrimSpace(dir)
	// mkdir without -p needs the parent.
	if code, _, errOut := run(t, "mkdir", "--grid", grid, dir+"/a/b"); code != ExitFailure || !strings.Contains(errOut, "no entry") {
		t.Fatalf("mkdir under a missing parent: %d %s", code, errOut)
	}
	code, sub, errOut := run(t, "mkdir", "--grid", grid, "-p", dir+"/a/b")
	if code != ExitOK || !strings.HasPrefix(sub, "URI:DIR2:") {
		t.Fatalf("mkdir -p: %d %q %s", code, sub, errOut)
	}
	// mkdir -p of an existing directory is fine and shows no write cap.
	code, again, errOut := run(t, "mkdir", "--grid", grid, "-p", dir+"/a/b")
	if code != ExitOK || strings.TrimSpace(again) != cap.MustParse(strings.TrimSpace(sub)).ReadOnly().String() {
		t.Fatalf("mkdir -p again: %d %q %s", code, again, errOut)
	}
	// mkdir of an existing name fails and deletes the directory it made.
	before := slots(g)
	if code, _, errOut := run(t, "mkdir", "--grid", grid, dir+"/a/b"); code != ExitFailure || !strings.Contains(errOut, "already exists") {
		t.Fatalf("mkdir over an existing entry: %d %s", code, errOut)
	}
	if after := slots(g); after != before {
		t.Fatalf("%d slots with shares before a failed mkdir, %d after", before, after)
	}
	// A mutable file linked with --mutable, replaced, read back.
	code, fc, errOut := runIn(t, []byte("one"), "put", "--grid", grid, "--mutable", "--private-key", keyFile(t, vectors[0].KeyPEM()), "-", dir+"/a/b/m")
	if code != ExitOK || strings.TrimSpace(fc) != vectors[0].Expected {
		t.Fatalf("put --mutable: %d %q %s", code, fc, errOut)
	}
	if code, _, errOut := runIn(t, []byte("two"), "put", "--grid", grid, vectors[0].Expected); code != ExitOK {
		t.Fatalf("put CAP: %s", errOut)
	}
	mustCat(t, grid, dir+"/a/b/m", []byte("two"))
	if code, _, errOut := run(t, "rm", "--grid", grid, dir+"/a/b/m"); code != ExitOK {
		t.Fatalf("rm: %s", errOut)
	}
	if code, _, _ := run(t, "cat", "--grid", grid, dir+"/a/b/m"); code == ExitOK {
		t.Fatal("entry still there after rm")
	}
	if code, _, errOut := run(t, "rm", "--grid", grid, dir+"/a/b/m"); code != ExitFailure || !strings.Contains(errOut, "no entry") {
		t.Fatalf("second rm: %d %s", code, errOut)
	}
}

func TestWriteUsageErrors(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 2)
	grid := g.WriteServersYAML(t.TempDir())
	ro := cap.MustParse(sskVectors(t)[0].Expected).ReadOnly().String()
	for _, args := range [][]string{
		{"put", "--grid", grid, "--format", "xdmf"},
		{"put", "--grid", grid, ro},
		{"put", "--grid", grid, "-k", "4", "-N", "3"},
		{"put", "--grid", grid, "a", "b"},
		{"rm", "--grid", grid, "URI:LIT:nbswy3dp"},
		{"mkdir", "--grid", grid, "URI:LIT:nbswy3dp/x"},
		{"rm"},
	} {
		if code, _, errOut := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, ExitUsage, errOut)
		}
	}
}

// TestConvergenceSecretKept: without a node dir, the first upload makes
// tahoe-watch's own secret (private to the user) and later ones reuse it,
// so equal files get equal caps.
func TestConvergenceSecretKept(t *testing.T) {
	cfg := writeEnv(t)
	g := testgrid.New(t, 3)
	grid := g.WriteServersYAML(t.TempDir())
	_, dir, _ := run(t, "mkdir", "--grid", grid)
	dir = strings.TrimSpace(dir)
	data := random(1000)
	_, c1, errOut := runIn(t, data, "put", "--grid", grid, "-", dir+"/one")
	_, c2, _ := runIn(t, data, "put", "--grid", grid, "-", dir+"/two")
	if c1 == "" || c1 != c2 {
		t.Fatalf("caps %q and %q (%s)", c1, c2, errOut)
	}
	for _, name := range []string{"convergence", "lease-secret"} {
		st, err := os.Stat(filepath.Join(cfg, "tahoe-watch", name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, err, st)
		}
	}
	// Another secret gives another cap for the same bytes.
	t.Setenv(EnvConvergence, filepath.Join(t.TempDir(), "other"))
	if _, c3, _ := runIn(t, data, "put", "--grid", grid, "-", dir+"/three"); c3 == c1 {
		t.Fatal("a different convergence secret gave the same cap")
	}
}

// TestPutConcurrentCLI runs two command lines replacing one file at once,
// each with its own publisher as separate processes would have: every
// run either succeeds or exits 1 saying another writer won, and the final
// seqnum counts the successes.
func TestPutConcurrentCLI(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 4)
	grid := g.WriteServersYAML(t.TempDir())
	v := sskVectors(t)[1]
	if code, _, errOut := runIn(t, []byte("v0"), "put", "--grid", grid, "--format", v.SSKFormat(), "--private-key", keyFile(t, v.KeyPEM())); code != ExitOK {
		t.Fatal(errOut)
	}
	rounds := 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				var out, errb bytes.Buffer
				data := fmt.Sprintf("writer %d round %d", w, i)
				code := Run(context.Background(), Streams{In: strings.NewReader(data), Out: &out, Err: &errb}, []string{"put", "--grid", grid, v.Expected})
				switch {
				case code == ExitOK:
					mu.Lock()
					wins++
					mu.Unlock()
				case code != ExitFailure || !strings.Contains(errb.String(), "another writer"):
					t.Errorf("exit %d: %s", code, errb.String())
				}
				if strings.Contains(out.String()+errb.String(), v.Expected) {
					t.Errorf("output shows the write cap: %s %s", out.String(), errb.String())
				}
			}
		}()
	}
	wg.Wait()
	code, out, errOut := run(t, "status", "--grid", grid, "--json", v.Expected)
	if code != ExitOK {
		t.Fatalf("status: %s", errOut)
	}
	var st struct {
		Best *struct {
			Seqnum uint64 `json:"seqnum"`
		} `json:"best"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Best == nil {
		t.Fatalf("status --json: %v %s", err, out)
	}
	t.Logf("%d of %d runs won", wins, 2*rounds)
	if st.Best.Seqnum != uint64(1+wins) {
		t.Errorf("seqnum %d after %d successful puts", st.Best.Seqnum, wins)
	}
}

// TestPutNodeDirDefaults: with --node-dir, new files use the node's
// tahoe.cfg encoding (3-of-5, happy 4) and its convergence secret.
func TestPutNodeDirDefaults(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 5)
	node := testutil.Testdata(t, "grid", "nodes", "client")
	v := sskVectors(t)[2]
	args := append([]string{"put", "--node-dir", node, "--format", v.SSKFormat(), "--private-key", keyFile(t, v.KeyPEM())}, g.ServerFlags()...)
	if code, _, errOut := runIn(t, random(1024), args...); code != ExitOK {
		t.Fatal(errOut)
	}
	code, out, errOut := run(t, append([]string{"status", "--json", v.Expected}, g.ServerFlags()...)...)
	var st struct {
		Best *struct{ K, N int } `json:"best"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &st) != nil || st.Best == nil || st.Best.K != 3 || st.Best.N != 5 {
		t.Fatalf("status: %d %s %s", code, out, errOut)
	}
	// The node's convergence secret names immutable files.
	_, dir, _ := run(t, append([]string{"mkdir", "--node-dir", node}, g.ServerFlags()...)...)
	data := random(5000)
	_, got, errOut := runIn(t, data, append([]string{"put", "--node-dir", node, "-", strings.TrimSpace(dir) + "/f"}, g.ServerFlags()...)...)
	secret, err := base32.Decode(strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "client", "private", "convergence"))))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := chk.Encode(data, secret, chk.Params{K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := cap.NewCHK(false, enc.Key, enc.UEBHash, 3, 5, enc.Size).String(); strings.TrimSpace(got) != want {
		t.Fatalf("put printed %q, want %s (%s)", got, want, errOut)
	}
}

// slots counts the storage indexes any server of g holds shares of.
func slots(g *testgrid.Grid) int {
	seen := map[string]bool{}
	for _, s := range g.Servers {
		files, _ := filepath.Glob(filepath.Join(s.SharesDir(), "*", "*", "*"))
		for _, f := range files {
			seen[filepath.Base(filepath.Dir(f))] = true
		}
	}
	return len(seen)
}

// TestPutUnhappyButLanded: with two of five servers down, replacing a
// file lands every share on the other three, fewer than shares.happy (5).
// Following Tahoe's publish rule, put says so and exits 0, since readers
// see the new version; --require-happy makes the same case exit 1.
func TestPutUnhappyButLanded(t *testing.T) {
	g := testgrid.New(t, 5)
	writeEnv(t)
	grid := g.WriteServersYAML(t.TempDir())
	code, out, errOut := runIn(t, []byte("v1"), "put", "--grid", grid, "--timeout", "5s")
	if code != ExitOK {
		t.Fatalf("put: %d %s", code, errOut)
	}
	c := strings.TrimSpace(out)
	g.Servers[3].Stop()
	g.Servers[4].Stop()
	v2 := random(5000)
	code, out, errOut = runIn(t, v2, "put", "--grid", grid, "--timeout", "5s", c)
	if code != ExitOK || out != "" {
		t.Fatalf("put of a version that landed on 3 servers: exit %d, out %q, err %s", code, out, errOut)
	}
	for _, want := range []string{"in place and readable", "on only 3 servers", "shares.happy is 5", "--require-happy"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not say %q: %s", want, errOut)
		}
	}
	t.Log(errOut)
	mustCat(t, grid, c, v2)
	v3 := random(3000)
	code, _, errOut = runIn(t, v3, "put", "--grid", grid, "--timeout", "5s", "--require-happy", c)
	if code != ExitFailure || !strings.Contains(errOut, "in place and readable") || !strings.Contains(errOut, "shares.happy is 5") {
		t.Fatalf("--require-happy: exit %d, %s", code, errOut)
	}
	mustCat(t, grid, c, v3) // the version is in place either way
}

// TestPutImmutableFromFile: put of a regular FILE streams it (read at
// offsets, never whole) and names it as put of the same bytes on stdin
// does (convergent CHK, or LIT when tiny).
func TestPutImmutableFromFile(t *testing.T) {
	g := testgrid.New(t, 5)
	writeEnv(t)
	t.Setenv(EnvConvergence, filepath.Join(t.TempDir(), "convergence"))
	grid := g.WriteServersYAML(t.TempDir())
	code, dir, errOut := run(t, "mkdir", "--grid", grid)
	if code != ExitOK {
		t.Fatalf("mkdir: %d %s", code, errOut)
	}
	dir = strings.TrimSpace(dir)
	for i, size := range []int{0, 55, 56, 3<<20 + 1} {
		data := random(size)
		file := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s/file%d", dir, i)
		code, fromFile, errOut := run(t, "put", "--grid", grid, file, name)
		if code != ExitOK {
			t.Fatalf("put FILE %d bytes: %s", size, errOut)
		}
		code, fromStdin, errOut := runIn(t, data, "put", "--grid", grid, "-", name+"-stdin")
		if code != ExitOK {
			t.Fatalf("put - %d bytes: %s", size, errOut)
		}
		if fromFile != fromStdin {
			t.Errorf("%d bytes: FILE gave %s, stdin %s", size, fromFile, fromStdin)
		}
		mustCat(t, grid, name, data)
	}
}

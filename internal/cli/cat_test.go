package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func gridObjectNamed(t *testing.T, name string) testutil.GridObject {
	for _, o := range testutil.GridObjects(t) {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no object %s", name)
	return testutil.GridObject{}
}

// deref reads a cap Tahoe listed as null as "".
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sha256hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// gridArgs returns --grid flags for g.
func gridArgs(t *testing.T, g *testgrid.Grid, args ...string) []string {
	return append([]string{args[0], "--grid", g.WriteServersYAML(t.TempDir())}, args[1:]...)
}

func TestCatOldSDMF(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	code, out, errOut := run(t, gridArgs(t, g, "cat", o.Cap)...)
	if code != ExitOK || out != string(o.Plaintext) {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	// --server flags work too.
	code, out, errOut = run(t, append([]string{"cat", o.Cap}, g.ServerFlags()...)...)
	if code != ExitOK || out != string(o.Plaintext) {
		t.Fatalf("--server: exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestCatRealGrid(t *testing.T) {
	g := testgrid.RealGrid(t)
	objs := testutil.GridObjects(t)
	byRO := map[string]testutil.GridObject{}
	for _, o := range objs {
		byRO[o.Readcap] = o
		if o.Kind != "filenode" {
			continue
		}
		for _, c := range []string{o.Cap, o.Readcap} {
			code, out, errOut := run(t, gridArgs(t, g, "cat", c)...)
			if code != ExitOK || sha256hex(out) != o.PlaintextSHA256 {
				t.Errorf("cat %s via %.14s: exit %d, %s", o.Name, c, code, errOut)
			}
		}
	}
	for _, d := range objs {
		for name, ch := range d.Children {
			if ch.Kind != "filenode" {
				continue
			}
			code, out, errOut := run(t, gridArgs(t, g, "cat", d.Cap+"/"+name)...)
			if o, ok := byRO[deref(ch.ROURI)]; code != ExitOK || ok && sha256hex(out) != o.PlaintextSHA256 {
				t.Errorf("cat %s/%s: exit %d, %s", d.Name, name, code, errOut)
			}
		}
	}
}

func TestCatErrors(t *testing.T) {
	g := testgrid.RealGrid(t)
	o := gridObjectNamed(t, "mdmf-3seg")
	dir := gridObjectNamed(t, "dir-sdmf")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"cat", "URI:NOPE"}, ExitUsage, "cap"},
		{[]string{"cat", o.Verifycap}, ExitUsage, "verify cap"},
		{[]string{"cat", dir.Cap}, ExitUsage, "is a directory"},
		{[]string{"cat", dir.Cap + "/missing"}, ExitFailure, `no entry "missing"`},
	} {
		code, _, errOut := run(t, gridArgs(t, g, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

func TestCatStoppedServers(t *testing.T) {
	g := testgrid.RealGrid(t)
	o := gridObjectNamed(t, "mdmf-3seg")
	args := gridArgs(t, g, "cat", "--timeout", "5s", o.Cap)
	for stopped := 1; stopped <= 3; stopped++ {
		g.Servers[stopped-1].Stop()
		code, out, errOut := run(t, args...)
		if stopped < 3 && (code != ExitOK || sha256hex(out) != o.PlaintextSHA256) {
			t.Errorf("%d stopped: exit %d, %s", stopped, code, errOut)
		}
		if stopped == 3 && (code != ExitFailure || !strings.Contains(errOut, "found 2 of the 3 shares needed")) {
			t.Errorf("3 stopped: exit %d, stderr %q", code, errOut)
		}
	}
}

func TestCatHungServer(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	g.AddHung()
	start := time.Now()
	code, out, errOut := run(t, gridArgs(t, g, "cat", "--timeout", "1s", o.Cap)...)
	if code != ExitOK || out != string(o.Plaintext) {
		t.Fatalf("exit %d, %s", code, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cat took %v with --timeout 1s", d)
	}
}

func TestCatCorruptServer(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 5)
	si := cap.MustParse(o.Cap).StorageIndex()
	for _, n := range []int{0, 5} { // server 0's shares
		p := g.Servers[0].SharePath(si, n)
		b, _ := os.ReadFile(p)
		b[len(b)-30] ^= 1 // in the share's last bytes (block or private key)
		b[500] ^= 1       // in the signed header region past the container
		os.WriteFile(p, b, 0o600)
	}
	code, out, errOut := run(t, gridArgs(t, g, "cat", o.Cap)...)
	if code != ExitOK || out != string(o.Plaintext) {
		t.Fatalf("exit %d, %s", code, errOut)
	}
	code, out, _ = run(t, gridArgs(t, g, "status", o.Cap)...)
	if code != ExitOK || !strings.Contains(out, "storage1") || !strings.Contains(out, "corrupt share 0") {
		t.Fatalf("status does not name the corrupt server:\n%s", out)
	}
}

func TestCatDebugNamesServers(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 5)
	for i := 0; i < 4; i++ {
		g.Servers[i].Stop()
	}
	code, _, errOut := run(t, gridArgs(t, g, "cat", "--debug", o.Cap)...)
	if code != ExitFailure || !strings.Contains(errOut, "debug: storage1") || !strings.Contains(errOut, "refused") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

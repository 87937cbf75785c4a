package cli

import (
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/chk"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestNodeDirConvergenceOneRule: --node-dir supplies the convergence
// secret and encoding whichever flag gives the servers (--server, --grid
// or both), so a CHK gets the node's cap; when --grid overrides the node's
// servers a warning says so.
func TestNodeDirConvergenceOneRule(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 5)
	grid := g.WriteServersYAML(t.TempDir())
	node := testutil.Testdata(t, "grid", "nodes", "client")
	secret, err := base32.Decode(strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "client", "private", "convergence"))))
	if err != nil {
		t.Fatal(err)
	}
	data := random(5000)
	enc, err := chk.Encode(data, secret, chk.Params{K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := cap.NewCHK(false, enc.Key, enc.UEBHash, 3, 5, enc.Size).String()
	for _, c := range []struct {
		flags []string
		warn  bool
	}{
		{append([]string{"--node-dir", node}, g.ServerFlags()...), false},
		{[]string{"--node-dir", node, "--grid", grid}, true},
		{append([]string{"--node-dir", node, "--grid", grid}, g.ServerFlags()...), false},
	} {
		_, dir, _ := run(t, append([]string{"mkdir"}, c.flags...)...)
		args := append([]string{"put", "-k", "3", "-N", "5", "--shares-happy", "3"}, c.flags...)
		code, got, errOut := runIn(t, data, append(args, "-", strings.TrimSpace(dir)+"/f")...)
		if code != ExitOK || strings.TrimSpace(got) != want {
			t.Errorf("%v: exit %d, cap %q, want %s (%s)", c.flags[2:3], code, got, want, errOut)
		}
		if warned := strings.Contains(errOut, "warning: --node-dir"); warned != c.warn {
			t.Errorf("%v: warning %v, want %v: %q", c.flags[2:3], warned, c.warn, errOut)
		}
	}
}

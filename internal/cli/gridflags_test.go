package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// gridCommand is a throwaway command that loads its grid flags.
func gridCommand(t *testing.T, env map[string]string) (*cobra.Command, *gridOptions, *error) {
	o := &gridOptions{getenv: func(k string) string { return env[k] }, home: t.TempDir()}
	var loadErr error
	cmd := &cobra.Command{Use: "x", SilenceUsage: true, SilenceErrors: true, RunE: func(cmd *cobra.Command, _ []string) error {
		_, loadErr = o.load(cmd.Context())
		return loadErr
	}}
	addGridFlags(cmd, o)
	return cmd, o, &loadErr
}

func TestGridFlags(t *testing.T) {
	gridFile := testutil.Testdata(t, "grid", "servers.yaml")
	nurl1 := "pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1"
	nurl2 := "pb://xgyUPZK_NbHX8r-eEF-mEy54DPT8lxj2BrIXQfiyX8c@127.0.0.1:20102/zqmhgpzeo7mmmrcwmcrcnqbw6rs6atdb#v=1"
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		servers int
		source  string
	}{
		{"grid file", []string{"--grid", gridFile}, nil, 5, "grid file"},
		{"servers win", []string{"--server", nurl1, "--server", nurl2, "--grid", gridFile}, nil, 2, "--server"},
		{"env grid", nil, map[string]string{"TAHOE_WATCH_GRID": gridFile}, 5, "grid file"},
		{"watch server", []string{"--grid", gridFile, "--watch-server", nurl1}, nil, 5, "grid file"},
	} {
		cmd, o, _ := gridCommand(t, tc.env)
		cmd.SetArgs(tc.args)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		c, err := o.load(context.Background())
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(c.Grid.Servers) != tc.servers || !strings.HasPrefix(c.Source, tc.source) {
			t.Errorf("%s: %d servers from %s", tc.name, len(c.Grid.Servers), c.Source)
		}
		if tc.name == "servers win" && c.Grid.Servers[0].Nickname == "" {
			t.Errorf("--server with --grid lost the nickname")
		}
	}
}

func TestGridFlagsErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"--server", "pb://nope"}, {"--grid", "/nonexistent.yaml"}, {"--node-dir", "/nonexistent"}} {
		cmd, _, loadErr := gridCommand(t, nil)
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(context.Background()); err == nil || !errkind.Is(*loadErr, errkind.Usage) || ExitCode(err) != ExitUsage {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// configTree is a small command tree shaped like tahoe-watch's: a command
// with grid flags and a few others, and a second command with a flag of
// the same name, to check per-command sections.
type configTree struct {
	grid   gridOptions
	listen string
	json   bool
	dir    string
	other  string
}

func (ct *configTree) root() *cobra.Command {
	root := &cobra.Command{Use: "tahoe-watch", SilenceErrors: true, SilenceUsage: true}
	watch := &cobra.Command{Use: "watch", RunE: func(*cobra.Command, []string) error { return nil }}
	addGridFlags(watch, &ct.grid)
	watch.Flags().StringVar(&ct.listen, "listen", "default", "")
	watch.Flags().BoolVar(&ct.json, "json", false, "")
	watch.Flags().StringVar(&ct.dir, "dir", "", "a cap")
	other := &cobra.Command{Use: "other", RunE: func(*cobra.Command, []string) error { return nil }}
	other.Flags().StringVar(&ct.other, "listen", "default", "")
	root.AddCommand(watch, other)
	useConfig(root)
	return root
}

// runConfig runs args on a fresh tree with the config file holding file
// (none if ""), and returns the tree and the error.
func runConfig(t *testing.T, file string, args ...string) (*configTree, error) {
	t.Helper()
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	if file != "" {
		p := filepath.Join(xdg, "tahoe-watch", "config.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ct := &configTree{}
	root := ct.root()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if out.Len() > 0 {
		t.Errorf("%v printed %q", args, out.String())
	}
	return ct, err
}

// clearEnv unsets every variable the tests use, so a developer's
// environment does not leak in.
func clearEnv(t *testing.T) {
	for _, k := range []string{"LISTEN", "JSON", "DIR", "SERVER", "WATCH_SERVER", "GRID", "NODE_DIR", "CONFIG"} {
		t.Setenv("TAHOE_WATCH_"+k, "")
	}
}

func TestConfigPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want configTree
	}{
		{name: "default", want: configTree{listen: "default"}},
		{name: "file", file: "listen: file\njson: true\n", want: configTree{listen: "file", json: true}},
		{name: "env over file", file: "listen: file\n", env: map[string]string{"LISTEN": "env", "JSON": "1"},
			want: configTree{listen: "env", json: true}},
		{name: "flag over env and file", file: "listen: file\njson: true\n", env: map[string]string{"LISTEN": "env"},
			args: []string{"--listen", "flag", "--json=false"}, want: configTree{listen: "flag"}},
		{name: "section over top level", file: "listen: top\nwatch:\n  listen: section\nother:\n  listen: o\n",
			want: configTree{listen: "section"}},
		{name: "file list", file: "server: [a, b]\n",
			want: configTree{listen: "default", grid: gridOptions{servers: []string{"a", "b"}}}},
		{name: "env list split on commas", file: "server: [a]\n", env: map[string]string{"SERVER": "x,y"},
			want: configTree{listen: "default", grid: gridOptions{servers: []string{"x", "y"}}}},
		{name: "flag list replaces", env: map[string]string{"SERVER": "x,y"}, args: []string{"--server", "z"},
			want: configTree{listen: "default", grid: gridOptions{servers: []string{"z"}}}},
		// Grid sources are one choice: a higher layer setting any of
		// them drops the lower layers' grid sources.
		{name: "flag node-dir beats file grid", file: "grid: g.yaml\nwatch-server: [w]\n", args: []string{"--node-dir", "n"},
			want: configTree{listen: "default", grid: gridOptions{nodeDir: "n"}}},
		{name: "env node-dir beats file grid", file: "grid: g.yaml\n", env: map[string]string{"NODE_DIR": "n"},
			want: configTree{listen: "default"}}, // gridconfig reads $TAHOE_WATCH_NODE_DIR itself
		{name: "env grid is left to gridconfig", env: map[string]string{"GRID": "g.yaml"},
			want: configTree{listen: "default"}},
		{name: "env grid beats file node-dir", file: "node-dir: n\n", env: map[string]string{"GRID": "g.yaml"},
			want: configTree{listen: "default"}},
		{name: "env server beats file grid", file: "grid: g.yaml\n", env: map[string]string{"SERVER": "s"},
			want: configTree{listen: "default", grid: gridOptions{servers: []string{"s"}}}},
		{name: "file grid and node-dir", file: "grid: g.yaml\nnode-dir: n\n",
			want: configTree{listen: "default", grid: gridOptions{gridFile: "g.yaml", nodeDir: "n"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv("TAHOE_WATCH_"+k, v)
			}
			ct, err := runConfig(t, tc.file, append([]string{"watch"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.other = "default"
			if !sameConfig(*ct, tc.want) {
				t.Errorf("got %+v, want %+v", *ct, tc.want)
			}
		})
	}
}

// sameConfig compares trees, an empty list being equal to none.
func sameConfig(a, b configTree) bool {
	norm := func(c *configTree) {
		c.grid.warn = nil // where warnings go is not configuration
		for _, l := range []*[]string{&c.grid.servers, &c.grid.watchServers} {
			if len(*l) == 0 {
				*l = nil
			}
		}
	}
	norm(&a)
	norm(&b)
	return reflect.DeepEqual(a, b)
}

const writeCap = "URI:SSK:vdr3yrkrotudpgmhxaqrp2j6xe:fyvzw5ak7cxowbtouvdnc4sfl4d42xoxt3nyjv2wjr2m5ykpcyeq"

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"malformed", "listen: a\njson: true\n  server: [x]\n", []string{"config.yaml:3:"}},
		{"not a mapping", "- listen\n", []string{"config.yaml:1:", "mapping"}},
		{"unknown key", "listen: a\n\nlistne: b\n", []string{"config.yaml:3:", `unknown key "listne"`}},
		{"unknown key in another command's section", "other:\n  json: true\n  bogus: 1\n", []string{"config.yaml:3:", `"bogus"`}},
		{"twice", "json: true\njson: false\n", []string{"config.yaml:2:", "twice"}},
		{"bad bool holding a cap", "json: " + writeCap + "\n", []string{"config.yaml:1:", "json", "bool"}},
		{"list for a single value", "dir: [" + writeCap + ", " + writeCap + "]\n", []string{"config.yaml:1:", "dir"}},
		{"config key", "config: other.yaml\n", []string{"config.yaml:1:", "config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			_, err := runConfig(t, tc.file, "watch")
			if err == nil {
				t.Fatal("no error")
			}
			if ExitCode(err) != ExitUsage {
				t.Errorf("exit %d, want %d", ExitCode(err), ExitUsage)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "URI:SSK") {
				t.Errorf("error %q prints the write cap", err)
			}
		})
	}
}

func TestConfigWriteCap(t *testing.T) {
	clearEnv(t)
	ct, err := runConfig(t, "dir: "+writeCap+"\n", "watch")
	if err != nil {
		t.Fatal(err)
	}
	if ct.dir != writeCap {
		t.Errorf("dir = %q, want the write cap", ct.dir)
	}
	t.Setenv("TAHOE_WATCH_JSON", writeCap)
	_, err = runConfig(t, "", "watch")
	if err == nil || !strings.Contains(err.Error(), "TAHOE_WATCH_JSON") || strings.Contains(err.Error(), "URI:") {
		t.Errorf("bad env value: error %v, want one naming the variable and not the value", err)
	}
}

func TestConfigFileChoice(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(mine, []byte("listen: mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ct, err := runConfig(t, "listen: default-file\n", "watch", "--config", mine)
	if err != nil || ct.listen != "mine" {
		t.Errorf("--config: listen %q, err %v", ct.listen, err)
	}
	t.Setenv("TAHOE_WATCH_CONFIG", mine)
	ct, err = runConfig(t, "listen: default-file\n", "watch")
	if err != nil || ct.listen != "mine" {
		t.Errorf("$TAHOE_WATCH_CONFIG: listen %q, err %v", ct.listen, err)
	}
	// A missing default file is fine; a missing named one is not.
	clearEnv(t)
	if _, err := runConfig(t, "", "watch"); err != nil {
		t.Errorf("no default config file: %v", err)
	}
	_, err = runConfig(t, "", "watch", "--config", filepath.Join(dir, "absent.yaml"))
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("missing --config file: error %v", err)
	}
}

// TestConfigRealTree checks the real command tree reads the config file:
// a typo fails every command with the file and line, except those that
// must work regardless (help, completion).
func TestConfigRealTree(t *testing.T) {
	clearEnv(t)
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	p := filepath.Join(xdg, "tahoe-watch", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("node-dir: /x\nserve:\n  listen: 127.0.0.1:0\nbase-dri: /y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "version")
	if code != ExitUsage || !strings.Contains(errOut, p+":4:") || !strings.Contains(errOut, "base-dri") {
		t.Errorf("version with a typo in the config: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"completion", "bash"}, {"help"}, {"__complete", "ser"}} {
		if code, _, errOut := run(t, args...); code != ExitOK {
			t.Errorf("%v with a broken config: exit %d, %s", args, code, errOut)
		}
	}
	if err := os.WriteFile(p, []byte("node-dir: /x\nserve:\n  listen: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "version"); code != ExitOK {
		t.Errorf("version with a good config: exit %d, %s", code, errOut)
	}
}

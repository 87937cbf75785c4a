package cli

import (
	"strings"
	"testing"
)

// TestFlagValueCompletions asks the command tree (cobra's __complete, as
// the shell scripts do) for flag values.
func TestFlagValueCompletions(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--on-busy", ""}, []string{"queue", "do-nothing", "restart", "signal"}},
		{[]string{"--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{[]string{"--log-format", ""}, []string{"text", "json"}},
		{[]string{"--event", ""}, []string{"changed", "added", "removed", "modified", "warning"}},
		{[]string{"--signal", ""}, []string{"TERM", "USR1"}},
		{[]string{"put", "--format", ""}, []string{"sdmf", "mdmf"}},
		{[]string{"mkdir", "--format", ""}, []string{"sdmf", "mdmf"}},
		{[]string{"sync", "--progress", ""}, []string{"auto", "always", "never"}},
		{[]string{"--grid", ""}, []string{"yaml", "yml", ":8"}}, // file extensions filter
		{[]string{"cat", "--cap-file", ""}, []string{":0"}},     // any file
		{[]string{"put", "--private-key", ""}, []string{"pem"}},
		{[]string{"status", "--node-dir", ""}, []string{":16"}}, // directories
		{[]string{"--format", ""}, []string{":4"}},              // a template: nothing to offer
	} {
		code, out, errOut := run(t, append([]string{"__complete"}, c.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, w := range c.want {
			found := false
			for _, l := range lines {
				found = found || l == w
			}
			if code != ExitOK || !found {
				t.Errorf("%v: exit %d, completions %q lack %q (%s)", c.args, code, lines, w, errOut)
			}
		}
	}
}

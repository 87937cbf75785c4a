package cli

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestHelpNamesFlagValues checks that --help of every command names what
// a flag takes (DIR, HOST:PORT, N, FORMAT), never pflag's Go type names.
func TestHelpNamesFlagValues(t *testing.T) {
	goTypes := map[string]bool{"string": true, "strings": true, "stringArray": true, "stringSlice": true,
		"int": true, "int64": true, "uint": true, "uint64": true, "float": true, "float64": true}
	var out bytes.Buffer
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); goTypes[name] {
				t.Errorf("%s --%s: --help shows %q for its value; name it (`DIR`, `N`...) in the usage", c.CommandPath(), f.Name, name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCommand(Streams{In: &bytes.Buffer{}, Out: &out, Err: &out}))
}

package cli

import (
	"regexp"
	"strings"
	"testing"
)

// goTypeWords are what a config error must not show the user: Go type
// and package names (yaml.v3 decoding into Go values talks of them).
var goTypeWords = regexp.MustCompile(`\byaml\.|\*?\b(?:map|\[\])\w*\[|\bstruct \{|!!`)

// FuzzConfig parses arbitrary bytes as the config file (a user file):
// no panic; errors name the file and speak of flags and lines, not Go
// types; every entry it returns is a flag of the root's tree.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("grid: g.yaml\nwatch:\n  interval: 30s\n  log-level: debug\n"))
	f.Add([]byte("watch: {hook: [a, b]}\nsync: {mode: two-way}\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("grid: &a [*a]\n"))
	f.Add([]byte("grid: g\ngrid: h\n"))
	f.Add([]byte("? [x]\n: y\nconfig: z\nhelp: true\n"))
	f.Add([]byte("watch:\n  nope: 1\n\t"))
	root := NewRootCommand(Streams{})
	flagNames, _ := treeNames(root)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseConfig("conf.yaml", data, root, "watch")
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "conf.yaml") || goTypeWords.MatchString(msg) {
				t.Fatalf("config error %q: no file name, or Go types", msg)
			}
			return
		}
		for _, e := range entries {
			if !flagNames[e.name] {
				t.Fatalf("entry %q is not a flag", e.name)
			}
		}
	})
}

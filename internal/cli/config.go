package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
	"go.yaml.in/yaml/v3"
)

// Flags can also be given in a YAML config file and in the environment.
// For every flag not given on the command line, applyConfig takes the
// value from $TAHOE_WATCH_<NAME> (upper case, dashes as underscores),
// else from the config file: flag > environment > file > default.
//
// The config file is a mapping of flag names to values. Top-level keys
// apply to every command that has the flag; a key naming a command (e.g.
// "serve:") holds a mapping that applies to that command only and wins
// over top-level keys:
//
//	server: [pb://..., https://...]
//	json: true
//	serve:
//	  listen: 0.0.0.0:3457
//
// Values are never echoed in errors: a config file may hold write caps.
const (
	configFlag = "config"
	envPrefix  = "TAHOE_WATCH_"
)

// gridSourceFlags say where a command's grid comes from (see gridflags.go).
// They are one choice, not independent settings: a layer (command line,
// environment, file) that sets any of them replaces the lower layers'
// values for all of them. Without this, a "grid:" in the config file
// would beat --node-dir on the command line, because gridconfig prefers
// --grid to --node-dir.
var gridSourceFlags = []string{"server", "watch-server", "grid", "node-dir"}

// envOwned are flags whose environment variable the command reads itself
// (gridconfig.Load), with its own precedence among grid sources: node dir
// before $TAHOE_WATCH_GRID. applyConfig does not copy these variables
// into flags, but they still count as the environment layer setting a
// grid source.
var envOwned = map[string]string{
	"grid":     gridconfig.EnvGrid,
	"node-dir": gridconfig.EnvNodeDir,
}

// useConfig registers the persistent --config flag on root and makes every
// command apply the config file and environment before it runs. Call it
// once after all commands are added. A command that sets its own
// PersistentPreRunE (which hides root's) keeps it and gets applyConfig
// run first. A PersistentPreRunE set on root later must call applyConfig
// itself.
func useConfig(root *cobra.Command) {
	root.PersistentFlags().String(configFlag, "",
		"config `FILE` of flag values (default tahoe-watch/config.yaml in the user config directory, e.g. ~/.config; or $"+envName(configFlag)+")")
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if prev := c.PersistentPreRunE; prev != nil {
			c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
				if err := applyConfig(cmd); err != nil {
					return err
				}
				return prev(cmd, args)
			}
		} else if prev := c.PersistentPreRun; prev != nil {
			c.PersistentPreRun = nil
			c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
				if err := applyConfig(cmd); err != nil {
					return err
				}
				prev(cmd, args)
				return nil
			}
		} else if c == root {
			c.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyConfig(cmd) }
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
}

// envName is the environment variable for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func defaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tahoe-watch", "config.yaml")
}

// applyConfig sets every flag of cmd not given on the command line from
// the environment, else from the config file. It is safe to call more
// than once: flags it set count as given.
func applyConfig(cmd *cobra.Command) error {
	return applyConfigEnv(cmd, os.LookupEnv)
}

func applyConfigEnv(cmd *cobra.Command, lookup func(string) (string, bool)) error {
	const op = "config"
	if noConfig(cmd) {
		return nil
	}
	flags := cmd.Flags()
	getenv := func(name string) (string, bool) {
		v, ok := lookup(name)
		return v, ok && v != ""
	}

	// Which grid-source flags each layer sets.
	cliGrid, envGrid := false, false
	for _, name := range gridSourceFlags {
		f := flags.Lookup(name)
		if f == nil {
			continue
		}
		if f.Changed {
			cliGrid = true
		}
		if _, ok := getenv(envName(name)); ok {
			envGrid = true
		}
	}

	// Environment layer.
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || skipFlag(f.Name) {
			return
		}
		if cliGrid && isGridSource(f.Name) {
			return
		}
		if _, owned := envOwned[f.Name]; owned {
			return
		}
		v, ok := getenv(envName(f.Name))
		if !ok {
			return
		}
		var vals []string
		if _, isSlice := f.Value.(pflag.SliceValue); isSlice {
			vals = strings.Split(v, ",")
		} else {
			vals = []string{v}
		}
		if e := setFlag(f, vals); e != nil {
			err = errkind.E(op, errkind.Usage, "$%s: %s", envName(f.Name), e)
		}
	})
	if err != nil {
		return err
	}

	// File layer.
	path, explicit := "", false
	if f := flags.Lookup(configFlag); f != nil && f.Changed {
		path, explicit = f.Value.String(), true
	} else if v, ok := getenv(envName(configFlag)); ok {
		path, explicit = v, true
	} else {
		path = defaultConfigPath()
	}
	if path == "" {
		return nil
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		if !explicit && errors.Is(rerr, fs.ErrNotExist) {
			return nil
		}
		return errkind.E(op, errkind.Usage, rerr)
	}
	entries, err := parseConfig(path, data, cmd.Root(), cmd.Name())
	if err != nil {
		return err
	}
	for _, e := range entries {
		f := flags.Lookup(e.name)
		if f == nil || f.Changed || skipFlag(f.Name) {
			continue // another command's flag, or given on the command line
		}
		if isGridSource(e.name) && (cliGrid || envGrid) {
			continue
		}
		if envVal, ok := envOwned[e.name]; ok {
			if _, set := getenv(envVal); set {
				continue
			}
		}
		if err := setFlag(f, e.vals); err != nil {
			return errkind.E(op, errkind.Usage, "%s:%d: %s: %s", path, e.line, e.name, err)
		}
	}
	return nil
}

func isGridSource(name string) bool {
	for _, g := range gridSourceFlags {
		if g == name {
			return true
		}
	}
	return false
}

func skipFlag(name string) bool { return name == "help" || name == configFlag }

// noConfig reports whether cmd is one that must work even with a broken
// config file: cobra's completion machinery, help and gen-man.
func noConfig(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd, "completion", "help", "gen-man":
			return true
		}
	}
	return false
}

// setFlag sets f to vals and marks it given. Its errors never contain the
// value.
func setFlag(f *pflag.Flag, vals []string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		if err := sv.Replace(vals); err != nil {
			return fmt.Errorf("not a list of %s", strings.TrimSuffix(f.Value.Type(), "Slice"))
		}
	} else {
		if len(vals) != 1 {
			return fmt.Errorf("takes one value, not a list")
		}
		if err := f.Value.Set(vals[0]); err != nil {
			return fmt.Errorf("not a valid %s", f.Value.Type())
		}
	}
	f.Changed = true // counts as given, also for cobra's required-flag check
	return nil
}

// configEntry is one flag value from the config file.
type configEntry struct {
	name string
	vals []string
	line int
}

// parseConfig reads the config file's mapping for the command named
// cmdName: top-level keys, then that command's section, which wins.
// Unknown keys (not a flag or command anywhere in root's tree) are
// errors, so typos do not go unnoticed.
func parseConfig(path string, data []byte, root *cobra.Command, cmdName string) ([]configEntry, error) {
	const op = "config"
	bad := func(line int, format string, args ...any) error {
		return errkind.E(op, errkind.Usage, "%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3's messages are "yaml: line N: ..."; make them file:N.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			return nil, errkind.E(op, errkind.Usage, "%s:%s", path, rest)
		}
		return nil, errkind.E(op, errkind.Usage, "%s: %s", path, msg)
	}
	if len(doc.Content) == 0 {
		return nil, nil // empty file
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, bad(top.Line, "the config file must be a mapping of flag names to values")
	}
	flagNames, cmdNames := treeNames(root)

	var global, section []configEntry
	var walk func(m *yaml.Node, inSection bool) error
	walk = func(m *yaml.Node, inSection bool) error {
		seen := map[string]bool{}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return bad(k.Line, "keys must be flag or command names")
			}
			name := k.Value
			if seen[name] {
				return bad(k.Line, "%s given twice", name)
			}
			seen[name] = true
			switch {
			case !inSection && cmdNames[name] && v.Kind == yaml.MappingNode:
				if name != cmdName {
					if err := checkSection(v, flagNames, bad); err != nil {
						return err
					}
					continue
				}
				if err := walk(v, true); err != nil {
					return err
				}
			case flagNames[name]:
				if name == configFlag || name == "help" {
					return bad(k.Line, "%s cannot be set in the config file", name)
				}
				vals, err := nodeValues(v)
				if err != nil {
					return bad(v.Line, "%s: %s", name, err)
				}
				e := configEntry{name: name, vals: vals, line: v.Line}
				if inSection {
					section = append(section, e)
				} else {
					global = append(global, e)
				}
			default:
				return bad(k.Line, "unknown key %q: not a flag of any tahoe-watch command", name)
			}
		}
		return nil
	}
	if err := walk(top, false); err != nil {
		return nil, err
	}
	// The section wins: apply it first, so the top-level value of the same
	// flag finds it already set.
	return append(section, global...), nil
}

// checkSection validates another command's section without applying it.
func checkSection(m *yaml.Node, flagNames map[string]bool, bad func(int, string, ...any) error) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || !flagNames[k.Value] {
			return bad(k.Line, "unknown key %q: not a flag of any tahoe-watch command", k.Value)
		}
		if _, err := nodeValues(v); err != nil {
			return bad(v.Line, "%s: %s", k.Value, err)
		}
	}
	return nil
}

// nodeValues turns a scalar or a sequence of scalars into flag values.
func nodeValues(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		vals := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("list items must be plain values")
			}
			vals = append(vals, e.Value)
		}
		return vals, nil
	}
	return nil, fmt.Errorf("must be a value or a list of values")
}

// treeNames collects every flag and command name in root's tree.
func treeNames(root *cobra.Command) (flags, cmds map[string]bool) {
	flags, cmds = map[string]bool{}, map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { flags[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		c.Flags().VisitAll(add)
		for _, sub := range c.Commands() {
			cmds[sub.Name()] = true
			walk(sub)
		}
	}
	walk(root)
	return flags, cmds
}

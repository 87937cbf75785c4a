package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/logging"
)

// progressModes are the values of sync --progress.
var progressModes = []string{"auto", "always", "never"}

// flagValues are the values shell completion offers for flags, by flag
// name. A flag whose name means different things in different commands
// (--format) is keyed "command/flag"; "" is the root command, the watcher.
var flagValues = map[string][]string{
	"on-busy":      {"queue", "do-nothing", "restart", "signal"},
	"progress":     progressModes,
	"log-level":    logging.Levels,
	"log-format":   logging.Formats,
	"signal":       {"TERM", "INT", "HUP", "USR1", "USR2", "KILL", "QUIT"},
	"event":        eventTypes,
	"put/format":   {"sdmf", "mdmf"},
	"mkdir/format": {"sdmf", "mdmf"},
}

// fileFlags complete file names (with these extensions, none for any);
// dirFlags complete directory names.
var (
	fileFlags = map[string][]string{"cap-file": nil, "grid": {"yaml", "yml"}, "config": {"yaml", "yml"},
		"private-key": {"pem"}, "addr-file": nil}
	dirFlags = []string{"node-dir", "base-dir"}
)

// addCompletions registers flag-value completions on every command of
// the tree. Call it once the tree is built.
func addCompletions(c *cobra.Command) {
	for name, values := range flagValues {
		if cmdName, flag, ok := strings.Cut(name, "/"); ok {
			if cmdName == c.Name() {
				completeValues(c, flag, values)
			}
			continue
		}
		completeValues(c, name, values)
	}
	for name, exts := range fileFlags {
		if f := c.LocalNonPersistentFlags().Lookup(name); f != nil || c.PersistentFlags().Lookup(name) != nil {
			_ = c.MarkFlagFilename(name, exts...)
		}
	}
	for _, name := range dirFlags {
		if c.LocalNonPersistentFlags().Lookup(name) != nil {
			_ = c.MarkFlagDirname(name)
		}
	}
	if c.Flags().Lookup("format") != nil && !c.HasParent() {
		_ = c.RegisterFlagCompletionFunc("format", cobra.NoFileCompletions) // a template
	}
	for _, sub := range c.Commands() {
		addCompletions(sub)
	}
}

// completeValues offers values for flag on c, if c has it.
func completeValues(c *cobra.Command, flag string, values []string) {
	if c.LocalNonPersistentFlags().Lookup(flag) == nil {
		return
	}
	_ = c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

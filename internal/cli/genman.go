package cli

import (
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// newGenManCommand builds the hidden gen-man command, which writes a man
// page per command (tahoe-watch.1, tahoe-watch-serve.1, ...) for the
// release packages. The pages' date is $SOURCE_DATE_EPOCH when set, so
// that release builds are reproducible.
func newGenManCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write man pages for every command into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenMan(cmd.Root(), args[0])
		},
	}
}

func runGenMan(root *cobra.Command, dir string) error {
	const op = "gen-man"
	date := time.Now()
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errkind.E(op, errkind.Usage, "$SOURCE_DATE_EPOCH %q is not a number of seconds", v)
		}
		date = time.Unix(sec, 0).UTC()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{
		Title:   "TAHOE-WATCH",
		Section: "1",
		Source:  "tahoe-watch " + versionInfo().version,
		Manual:  "tahoe-watch manual",
		Date:    &date,
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	return nil
}

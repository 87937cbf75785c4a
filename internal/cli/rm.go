package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// rmOptions are the flags of "tahoe-watch rm".
type rmOptions struct {
	writeOptions
	target string
}

func newRmCommand(s Streams) *cobra.Command {
	opts := &rmOptions{}
	cmd := &cobra.Command{
		Use:   "rm DIRCAP/PATH",
		Short: "Unlink an entry from a directory",
		Long: `rm removes the entry at PATH from its directory. The object it named is
not deleted (other directories may link it); its shares expire with their
leases. A missing entry is an error.`,
		Example: `  tahoe-watch rm --grid servers.yaml URI:DIR2:xxx:yyy/old/notes.txt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return rmRun(cmd.Context(), opts)
		},
	}
	addWriteFlags(cmd, &opts.writeOptions, false)
	return cmd
}

func rmRun(ctx context.Context, opts *rmOptions) error {
	root, path, err := parseTarget(opts.target)
	if err != nil {
		return err
	}
	if len(path) == 0 {
		return errkind.E("rm", errkind.Usage, "give DIRCAP/PATH: rm unlinks an entry, it does not delete a directory cap")
	}
	w, err := opts.open(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	return w.ed.Unlink(ctx, root, path)
}

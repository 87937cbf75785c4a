package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// mkdirOptions are the flags of "tahoe-watch mkdir".
type mkdirOptions struct {
	writeOptions
	parents bool
	target  string
	out     io.Writer
}

func newMkdirCommand(s Streams) *cobra.Command {
	opts := &mkdirOptions{out: s.Out}
	cmd := &cobra.Command{
		Use:   "mkdir [DIRCAP/PATH]",
		Short: "Create a directory and print its write cap",
		Long: `mkdir creates a new mutable directory and prints its write cap. With
DIRCAP/PATH it creates the directory and links it at PATH below DIRCAP;
the parent must exist unless --parents is given, and PATH must not exist
(with --parents an existing directory is fine and its cap is printed).

Every link is a read-modify-write of the parent directory that starts over
when another writer changed it first, so concurrent edits are never lost.`,
		Example: `  tahoe-watch mkdir --grid servers.yaml
  tahoe-watch mkdir --format mdmf
  tahoe-watch mkdir -p URI:DIR2:xxx:yyy/projects/2024`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.target = args[0]
			}
			return mkdirRun(cmd.Context(), opts)
		},
	}
	addWriteFlags(cmd, &opts.writeOptions, true)
	cmd.Flags().BoolVarP(&opts.parents, "parents", "p", false, "create missing parent directories; an existing PATH is no error")
	return cmd
}

func mkdirRun(ctx context.Context, opts *mkdirOptions) error {
	const op = "mkdir"
	var root cap.Cap
	var path []string
	if opts.target != "" {
		var err error
		if root, path, err = parseTarget(opts.target); err != nil {
			return err
		}
		if len(path) == 0 {
			return errkind.E(op, errkind.Usage, "give DIRCAP/PATH: the new directory needs a name")
		}
	}
	w, err := opts.open(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	c, err := mkdirAt(ctx, w.ed, root, path, opts.parents)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(opts.out, c.String()) // the new cap, on purpose in full
	return err
}

// mkdirAt makes a new directory, linked at path below root if root is
// set; with parents, missing parents are made, and an existing directory
// at path is returned as its read cap: write caps are printed only for
// what this command created.
func mkdirAt(ctx context.Context, ed *dirop.Editor, root cap.Cap, path []string, parents bool) (cap.Cap, error) {
	if root == nil {
		return ed.Mkdir(ctx)
	}
	if parents {
		c, err := ed.Dir(ctx, root, path, false)
		if err == nil {
			return c.ReadOnly(), nil
		}
		if !errkind.Is(err, errkind.NotFound) {
			return nil, err
		}
		return ed.Dir(ctx, root, path, true)
	}
	parent, err := ed.Dir(ctx, root, path[:len(path)-1], false)
	if err != nil {
		return nil, err
	}
	c, err := ed.Mkdir(ctx)
	if err != nil {
		return nil, err
	}
	if err := ed.Link(ctx, parent, path[len(path)-1:], dirop.ChildOf(c), false, false); err != nil {
		if errkind.Is(err, errkind.Conflict) { // the name exists: ours was never linked
			ed.Pub.Delete(ctx, c) // best effort; leftover shares expire with their leases
		}
		return nil, err
	}
	return c, nil
}

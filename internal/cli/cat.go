package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

// readOptions are the flags shared by the commands that read the grid
// (cat, ls, status).
type readOptions struct {
	grid          gridOptions
	timeout       time.Duration
	debug         bool
	showWritecaps bool
	// warnOut, if set, gets a warning for each directory entry that
	// cannot be used in the directories a path goes through.
	warnOut io.Writer
}

func addReadFlags(cmd *cobra.Command, o *readOptions) {
	addGridFlags(cmd, &o.grid)
	f := cmd.Flags()
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on a server that has not answered after this long")
	f.BoolVar(&o.debug, "debug", false, "print per-server details and every failed share on stderr")
	f.BoolVar(&o.showWritecaps, "show-writecaps", false, "print write caps where there are any (default: read-only caps)")
}

// reader loads the grid and returns a Reader for it.
func (o *readOptions) reader(ctx context.Context) (*retrieve.Reader, error) {
	cfg, err := o.grid.load(ctx)
	if err != nil {
		return nil, err
	}
	return retrieve.NewReader(cfg.Grid, &retrieve.Options{Timeout: o.timeout}, &grid.Options{Retries: -1}), nil
}

// open parses a CAP[/PATH] target, connects to the grid and resolves the
// path; the caller closes the reader.
func (o *readOptions) open(ctx context.Context, target string) (*retrieve.Reader, cap.Cap, error) {
	c, path, err := parseTarget(target)
	if err != nil {
		return nil, nil, err
	}
	r, err := o.reader(ctx)
	if err != nil {
		return nil, nil, err
	}
	skipped := map[string][]dirnode.Unusable{}
	var dirs []string
	c, err = r.ResolveSkipping(ctx, c, path, func(dir string, u dirnode.Unusable) {
		if skipped[dir] == nil {
			dirs = append(dirs, dir)
		}
		skipped[dir] = append(skipped[dir], u)
	})
	for _, dir := range dirs {
		warnUnusable(o.warnOut, dir, skipped[dir])
	}
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, c, nil
}

// maxWarnedEntries bounds the warnings about one directory's unusable
// entries.
const maxWarnedEntries = 10

// warnUnusable tells the user about the entries of directory dir (a path
// below the target's cap, "" for the cap itself) that were skipped.
func warnUnusable(w io.Writer, dir string, us []dirnode.Unusable) {
	if w == nil {
		return
	}
	if dir == "" {
		dir = "."
	}
	for _, line := range dirnode.Describe(us, maxWarnedEntries) {
		fmt.Fprintf(w, "tahoe-watch: warning: %s: skipped %s\n", dir, line)
	}
}

// parseTarget splits "CAP/a/b" and parses the cap.
func parseTarget(arg string) (cap.Cap, []string, error) {
	s, path, err := cap.SplitPath(arg)
	if err != nil {
		return nil, nil, err
	}
	c, err := cap.Parse(s)
	if err != nil {
		return nil, nil, err
	}
	return c, path, nil
}

// shownCap is the cap to print: read-only unless write caps are wanted.
func (o *readOptions) shownCap(c cap.Cap) string {
	if o.showWritecaps {
		return c.String()
	}
	return c.ReadOnly().String()
}

// warnBad tells the user about shares a read had to skip.
func warnBad(w io.Writer, rep *retrieve.Report, debug bool) {
	if rep == nil {
		return
	}
	for _, b := range rep.Bad {
		if debug {
			fmt.Fprintf(w, "tahoe-watch: warning: share %d on %s skipped: %v\n", b.Num, b.Server, b.Err)
		} else {
			fmt.Fprintf(w, "tahoe-watch: warning: share %d on %s skipped (%s)\n", b.Num, b.Server, errkind.KindOf(b.Err))
		}
	}
}

// catOptions are the flags of "tahoe-watch cat".
type catOptions struct {
	readOptions
	target string
	out    io.Writer
	errOut io.Writer
}

func newCatCommand(s Streams) *cobra.Command {
	opts := &catOptions{out: s.Out, errOut: s.Err}
	opts.warnOut = s.Err
	cmd := &cobra.Command{
		Use:   "cat CAP[/PATH]",
		Short: "Write the contents of a file on the grid to stdout",
		Long: `cat reads a file from the grid, verifies every byte against the file's
hash trees and signature, and writes it to stdout as it goes.

CAP is any cap that can read: a write cap, a read cap or a literal cap, of
a mutable (SDMF, MDMF) or immutable (CHK, LIT) file. CAP/PATH reads the
file at PATH below the directory CAP. For a mutable file the newest
recoverable version is read; "tahoe-watch status" shows all versions.

Shares that fail verification are skipped (the read goes on with others),
reported to their server, and named on stderr.`,
		Example: `  tahoe-watch cat --grid servers.yaml URI:SSK-RO:xxx:yyy > file
  tahoe-watch cat URI:DIR2:xxx:yyy/docs/notes.txt
  tahoe-watch cat --server pb://...#v=1 --timeout 5s URI:CHK:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return catRun(cmd.Context(), opts)
		},
	}
	addReadFlags(cmd, &opts.readOptions)
	return cmd
}

// catRun resolves the target and streams its contents.
func catRun(ctx context.Context, opts *catOptions) error {
	const op = "cat"
	r, c, err := opts.open(ctx, opts.target)
	if err != nil {
		return err
	}
	defer r.Close()
	if c.IsDir() {
		return errkind.E(op, errkind.Usage, "%s is a directory (use tahoe-watch ls)", cap.Scrub(opts.target))
	}
	rep, err := r.Cat(ctx, opts.out, c)
	warnBad(opts.errOut, rep, opts.debug)
	if err != nil && opts.debug {
		debugServers(ctx, opts.errOut, r, c)
	}
	return err
}

// debugServers prints how each server answered for a mutable cap, to
// explain a failed read.
func debugServers(ctx context.Context, w io.Writer, r *retrieve.Reader, c cap.Cap) {
	mc, ok := c.(*cap.Mutable)
	if !ok {
		return
	}
	m, err := r.Map(ctx, mc)
	if err != nil {
		return
	}
	for _, s := range m.Servers {
		fmt.Fprintf(w, "tahoe-watch: debug: %s\n", s)
	}
}

package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// demoOptions are the flags of "tahoe-watch demo".
type demoOptions struct {
	keep     bool
	json     bool
	servers  int
	interval time.Duration // hidden: how often the writer changes something
	out      io.Writer
	errOut   io.Writer
}

func newDemoCommand(s Streams) *cobra.Command {
	opts := &demoOptions{out: s.Out, errOut: s.Err}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch live pushed changes on an embedded grid, with zero setup",
		Long: `demo starts a grid of storage servers on loopback in a temporary
directory, creates a directory with a few files, starts a writer that
changes something every few seconds, and watches the directory
recursively with the ordinary watcher: the events it prints were pushed by
the servers and verified.

It prints the grid file and the caps, so that a second terminal can use
the same grid (tahoe-watch status, cat, or tahoe-watch CAP). The grid is
removed on exit unless --keep is given. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return demoRun(cmd.Context(), opts) },
	}
	f := cmd.Flags()
	f.BoolVar(&opts.keep, "keep", false, "keep the grid's directory on exit")
	f.BoolVar(&opts.json, "json", false, "print events as NDJSON")
	f.IntVar(&opts.servers, "servers", 5, "number of storage servers")
	f.DurationVar(&opts.interval, "writer-interval", 3*time.Second, "how often the writer changes something")
	f.MarkHidden("writer-interval")
	return cmd
}

// demoRun sets up the grid and the tree, starts the writer and watches.
func demoRun(ctx context.Context, opts *demoOptions) error {
	const op = "demo"
	if opts.servers < demo.Params.N {
		return &usageError{fmt.Errorf("--servers must be at least %d", demo.Params.N)}
	}
	log := slog.New(slog.NewTextHandler(opts.errOut, nil))
	dir, err := os.MkdirTemp("", "tahoe-watch-demo-")
	if err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	if opts.keep {
		defer fmt.Fprintf(opts.errOut, "kept the grid in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	g, err := demo.StartGrid(ctx, dir, demo.GridOptions{Servers: opts.servers})
	if err != nil {
		return err
	}
	defer g.Close()
	fmt.Fprintf(opts.errOut, "Started %d storage servers in %s; creating the demo directory...\n", len(g.Nodes), dir)
	tree, err := demo.Populate(ctx, g.Grid())
	if err != nil {
		return err
	}
	defer tree.Close()
	if err := printDemoInfo(opts.errOut, g, tree); err != nil {
		return err
	}
	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	go tree.Write(wctx, opts.interval, log)
	w, err := watcher.New([]cap.Cap{tree.Root.ReadOnly()}, watcher.Options{Grid: g.Grid(), Recursive: true, Logger: log})
	if err != nil {
		return err
	}
	var p events.Printer = events.Text{}
	if opts.json {
		p = events.JSON{}
	}
	return runWatch(ctx, &watchOptions{out: opts.out, errOut: opts.errOut, logger: log}, w, p, nil, log)
}

// printDemoInfo tells the user how to reach the grid from elsewhere.
func printDemoInfo(w io.Writer, g *demo.Grid, t *demo.Tree) error {
	gridFile, err := g.WriteGridFile()
	if err != nil {
		return err
	}
	ro := t.Root.ReadOnly().String()
	capFile := filepath.Join(g.Dir, "rootcap")
	if err := os.WriteFile(capFile, []byte(t.Root.String()+"\n"), 0o600); err != nil {
		return errkind.E("demo", errkind.Other, err)
	}
	fmt.Fprintf(w, `
Grid file: %s   (or: %s)
Demo directory (read cap): %s
  README.txt      %s
  todo.txt        %s
  docs/notes.txt  %s
Write cap of the directory, to edit it yourself, is in %s

In another terminal, try:
  tahoe-watch --grid %s %s
  tahoe-watch ls --grid %s %s
  tahoe-watch status --grid %s %s/todo.txt
  echo hello | tahoe-watch put --grid %s - "$(cat %s)/hello.txt"

Watching it now; a writer changes something every few seconds. Ctrl-C stops.

`, gridFile, joinFlags(g.ServerFlags()), ro,
		t.Files["README.txt"].ReadOnly(), t.Files["todo.txt"].ReadOnly(), t.Files["docs/notes.txt"].ReadOnly(),
		capFile, gridFile, ro, gridFile, ro, gridFile, ro, gridFile, capFile)
	return nil
}

func joinFlags(f []string) string {
	s := ""
	for i, x := range f {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}

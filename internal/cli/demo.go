package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tui"
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

It prints the grid file, the caps and commands to try in a second
terminal on the same grid (watch -r, ls -R, cat, status, tui, put); each
works as printed while the demo runs. The grid is
removed on exit unless --keep is given. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return demoRun(cmd.Context(), opts) },
	}
	f := cmd.Flags()
	f.BoolVar(&opts.keep, "keep", false, "keep the grid's directory on exit")
	f.BoolVar(&opts.json, "json", false, "print events as NDJSON")
	f.IntVar(&opts.servers, "servers", 5, "`N` storage servers")
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
	if opts.interval <= 0 { // 0 would have the writer publish as fast as it can
		return &usageError{fmt.Errorf("--writer-interval %s: want more than 0", opts.interval)}
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

// printDemoInfo tells the user how to reach the grid from elsewhere:
// commands that each work as printed, in another terminal, while the demo
// runs.
func printDemoInfo(w io.Writer, g *demo.Grid, t *demo.Tree) error {
	gridFile, err := g.WriteGridFile()
	if err != nil {
		return err
	}
	capFile := filepath.Join(g.Dir, "rootcap")
	if err := os.WriteFile(capFile, []byte(t.Root.String()+"\n"), 0o600); err != nil {
		return errkind.E("demo", errkind.Other, err)
	}
	ro := t.Root.ReadOnly().String()
	watchList := filepath.Join(g.Dir, "tui.yaml")
	if err := tui.SaveWatchList(watchList, []tui.Target{{Cap: t.Root.ReadOnly(), Name: "demo"}}); err != nil {
		return err
	}
	fmt.Fprintf(w, `
Grid file: %s
  (the servers' NURLs, for --grid; or pass each as --server NURL)
Demo directory (read cap): %s
  README.txt      %s
  todo.txt        %s
  docs/notes.txt  %s
Write cap of the directory, to edit it yourself, is in %s

`, gridFile, ro, t.Files["README.txt"].ReadOnly(), t.Files["todo.txt"].ReadOnly(),
		t.Files["docs/notes.txt"].ReadOnly(), capFile)
	fmt.Fprintf(w, "In another terminal, try:\n")
	for _, h := range demoHints(demoProgram(), shellQuote(gridFile), ro, shellQuote(capFile), shellQuote(watchList)) {
		fmt.Fprintf(w, "  %s\n", h)
	}
	fmt.Fprintf(w, "\nWatching it now; a writer changes something every few seconds. Ctrl-C stops.\n\n")
	return nil
}

// demoHints are the commands the demo suggests, in order: watch the tree,
// list it, read and map a file, open the dashboard, write a file.
func demoHints(prog, gridFile, dirCap, capFile, watchList string) []string {
	g := "--grid " + gridFile
	return []string{
		fmt.Sprintf("%s -r %s %s", prog, g, dirCap),
		fmt.Sprintf("%s ls -R %s %s", prog, g, dirCap),
		fmt.Sprintf("%s cat %s %s/todo.txt", prog, g, dirCap),
		fmt.Sprintf("%s status %s %s/todo.txt", prog, g, dirCap),
		fmt.Sprintf("%s tui -r %s --watchlist %s", prog, g, watchList), // the list names the directory "demo"
		fmt.Sprintf(`echo hello | %s put %s - "$(cat %s)/hello.txt"`, prog, g, capFile),
	}
}

// demoProgram is how the user runs this same program from a shell: the
// name when it is found on PATH, "go run ./cmd/tahoe-watch" (relative to
// the working directory) when running under go run, else the binary's path.
func demoProgram() string {
	exe, err := os.Executable()
	if err != nil {
		return "tahoe-watch"
	}
	if p, err := exec.LookPath(filepath.Base(exe)); err == nil && sameFile(p, exe) {
		return filepath.Base(exe)
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		if dir := goRunDir(); dir != "" {
			return "go run " + shellQuote(dir)
		}
	}
	return shellQuote(exe)
}

// goRunDir is ./cmd/tahoe-watch of the module the working directory is
// in, relative to it, or "" outside the module.
func goRunDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		main := filepath.Join(dir, "cmd", "tahoe-watch", "main.go")
		if _, err := os.Stat(main); err == nil {
			rel, err := filepath.Rel(wd, filepath.Dir(main))
			if err != nil {
				return ""
			}
			return "." + string(filepath.Separator) + rel
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// plain path characters.
func shellQuote(s string) string {
	plain := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !plain(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

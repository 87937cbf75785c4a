package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/term"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tui"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// tuiOptions are the flags of "tahoe-watch tui".
type tuiOptions struct {
	gridOptions
	watchList string
	timingOptions
	recursive bool
	capFile   string // --cap-file: more CAP[/PATH] targets, one per line
	args      []string
	s         Streams
	// run shows the model; tests replace it. nil runs a full-screen
	// program, which needs a terminal.
	run func(ctx context.Context, m tea.Model) error
}

func newTuiCommand(s Streams) *cobra.Command {
	opts := &tuiOptions{s: s}
	cmd := &cobra.Command{
		Use:   "tui [flags] [CAP[/PATH]...]",
		Short: "Interactive dashboard of watched caps, servers and events",
		Long: `tui shows a live dashboard of the watched caps, the storage servers and the
event log. Keys: a add (CAP[/PATH] [NAME]), d remove (asks first), p pause,
r refresh, enter servermap, v view a small file, c copy the read cap, s
sort, e read errors whole, / filter, ? help, q quit.

Rows are named by the PATH given, a name in the watch list or, with -r,
the directory entry names of the children. Caps given here and added in
the dashboard are remembered, as read caps only, in the --watchlist file.
A write cap is reduced to its read cap at once and never shown. It needs
a terminal; to print changes instead, use tahoe-watch -r CAP. Try it
with the demo grid: docs/tui.md.`,
		Example: `  tahoe-watch tui --grid servers.yaml URI:DIR2-RO:xxx:yyy
  tahoe-watch tui -r --grid servers.yaml URI:DIR2-RO:xxx:yyy/docs`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.args = args
			if err := opts.timingOptions.check(); err != nil {
				return err
			}
			return tuiRun(cmd.Context(), opts)
		},
	}
	addGridFlags(cmd, &opts.gridOptions)
	f := cmd.Flags()
	f.StringVar(&opts.watchList, "watchlist", tui.DefaultWatchList(), "`FILE` remembering the watched read caps (mode 0600)")
	addTimingFlags(f, &opts.timingOptions)
	f.BoolVarP(&opts.recursive, "recursive", "r", false, "show a row for every mutable below the watched directories")
	f.StringVar(&opts.capFile, capFileFlag, "", "also show the CAP[/PATH] targets in `FILE`, one per line (# comments); keeps caps off the command line")
	return cmd
}

// tuiRun checks for a terminal, merges the caps given with the remembered
// ones, saves them, and shows the dashboard until the user quits or ctx
// is done.
func tuiRun(ctx context.Context, opts *tuiOptions) error {
	if opts.run == nil {
		if err := needTerminal(opts.s); err != nil {
			return err
		}
	}
	typed := opts.args
	if opts.capFile != "" {
		more, err := readCapList(opts.capFile)
		if err != nil {
			return err
		}
		typed = append(typed, more...)
	}
	args, err := parseTuiArgs(typed)
	if err != nil {
		return err
	}
	var saved []tui.Target
	if opts.watchList != "" {
		if saved, err = tui.LoadWatchList(opts.watchList); err != nil {
			return err
		}
	}
	cfg, err := opts.load(ctx)
	if err != nil {
		return err
	}
	targets, err := resolveTargets(ctx, cfg.Grid, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wo := watcher.Options{Grid: cfg.Grid, Recursive: opts.recursive, Logger: slog.New(slog.DiscardHandler)}
	opts.timingOptions.apply(&wo)
	src, err := tui.NewWatcherSource(ctx, append(saved, targets...), wo)
	if err != nil {
		return err
	}
	defer src.Close()
	save := func(ts []tui.Target) error {
		if opts.watchList == "" {
			return nil
		}
		return tui.SaveWatchList(opts.watchList, ts)
	}
	if err := save(src.Targets()); err != nil {
		return err
	}
	m := tui.New(src, tui.Options{Renderer: renderer(opts.s), Saved: save, Targets: src.Targets,
		Resolve: func(ctx context.Context, text string) (tui.Target, error) { return resolveTarget(ctx, cfg.Grid, text) },
		Copy:    osc52(opts.s.Out)})
	if opts.run != nil {
		return opts.run(ctx, m)
	}
	return runProgram(ctx, opts.s, m)
}

// parseTuiArgs parses CAP[/PATH] arguments, reduced to read caps at once,
// and refuses a cap that cannot be watched before anything connects.
func parseTuiArgs(args []string) ([]watchArg, error) {
	parsed, err := parseWatchArgs(args)
	if err != nil {
		return nil, err
	}
	for _, a := range parsed {
		if len(a.path) == 0 && !watchable(a.c) {
			return nil, errkind.E("tui", errkind.Usage, "%s: only mutable files and directories can be watched", cap.Abbrev(a.c))
		}
	}
	return parsed, nil
}

func watchable(c cap.Cap) bool {
	m, ok := c.ReadOnly().(*cap.Mutable)
	return ok && m.Access != cap.Verify
}

// resolveTargets follows the arguments' paths; a row is named by the
// path given.
func resolveTargets(ctx context.Context, g *grid.Grid, args []watchArg) ([]tui.Target, error) {
	caps, _, err := resolveWatchArgs(ctx, g, args)
	if err != nil {
		return nil, err
	}
	out := make([]tui.Target, len(caps))
	for i, c := range caps {
		out[i] = tui.Target{Cap: c, Name: strings.Join(args[i].path, "/")}
	}
	return out, nil
}

// resolveTarget resolves what was typed at the dashboard's add prompt:
// CAP[/PATH], optionally followed by a name for the row.
func resolveTarget(ctx context.Context, g *grid.Grid, text string) (tui.Target, error) {
	arg, name, _ := strings.Cut(strings.TrimSpace(text), " ")
	args, err := parseWatchArgs([]string{arg})
	if err != nil {
		return tui.Target{}, err
	}
	ts, err := resolveTargets(ctx, g, args)
	if err != nil {
		return tui.Target{}, err
	}
	if name = strings.TrimSpace(name); name != "" {
		ts[0].Name = name
	}
	return ts[0], nil
}

// needTerminal refuses to start the dashboard unless stdin and stdout are
// a terminal, before anything is written to either.
func needTerminal(s Streams) error {
	for _, f := range []struct {
		name string
		s    any
	}{{"stdin", s.In}, {"stdout", s.Out}} {
		file, ok := f.s.(*os.File)
		if !ok || !term.IsTerminal(file.Fd()) {
			return errkind.E("tui", errkind.Usage, "the dashboard needs a terminal, and %s is not one (to print changes instead: tahoe-watch -r CAP)", f.name)
		}
	}
	return nil
}

// resetTerminal undoes what the program turns on: mouse tracking,
// bracketed paste, the hidden cursor and the alternate screen.
const resetTerminal = "\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?25h\x1b[?1049l"

// runProgram runs the full-screen program and leaves the terminal as it
// found it, also when the program fails to start or is killed.
func runProgram(ctx context.Context, s Streams, m tea.Model) error {
	in := s.In.(*os.File)
	state, stateErr := term.GetState(in.Fd())
	// Signals are ctx's (Main's): bubbletea's own handler races it and can
	// block its shutdown forever on SIGTERM.
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithAltScreen(), tea.WithMouseCellMotion(),
		tea.WithInput(s.In), tea.WithOutput(s.Out), tea.WithoutSignalHandler())
	_, err := p.Run()
	if err != nil {
		io.WriteString(s.Out, resetTerminal)
	}
	if stateErr == nil {
		term.Restore(in.Fd(), state)
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return errkind.E("tui", errkind.Other, err)
	}
	return nil
}

// osc52 copies text to the terminal's clipboard with an OSC 52 sequence,
// which terminals (and tmux with set-clipboard) honour, also over ssh.
func osc52(w io.Writer) func(string) error {
	out := termenv.NewOutput(w)
	return func(s string) error {
		out.Copy(s)
		return nil
	}
}

// renderer styles for the output stream, without colour under NO_COLOR.
func renderer(s Streams) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(s.Out)
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

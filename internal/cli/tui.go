package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tui"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// tuiOptions are the flags of "tahoe-watch tui".
type tuiOptions struct {
	gridOptions
	watchList string
	poll      time.Duration
	refresh   time.Duration
	noPush    bool
	args      []string
	s         Streams
	// run shows the model; tests replace it. nil runs a full-screen program.
	run func(ctx context.Context, m tea.Model) error
}

func newTuiCommand(s Streams) *cobra.Command {
	opts := &tuiOptions{s: s}
	cmd := &cobra.Command{
		Use:   "tui [flags] [CAP...]",
		Short: "Interactive dashboard of watched caps, servers and events",
		Long: `tui shows a live dashboard of the watched caps, the storage servers and the
event log, and lets you add (a), remove (d), pause (p), refresh (r) and
inspect (enter) caps. Caps given here and added in the dashboard are
remembered, as read caps only, in the --watchlist file. A write cap is
reduced to its read cap at once and never shown. Try it with the demo
grid: docs/tui.md.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.args = args
			return tuiRun(cmd.Context(), opts)
		},
	}
	addGridFlags(cmd, &opts.gridOptions)
	f := cmd.Flags()
	f.StringVar(&opts.watchList, "watchlist", tui.DefaultWatchList(), "`FILE` remembering the watched read caps (mode 0600)")
	f.DurationVar(&opts.poll, "poll", watcher.DefaultPoll, "poll interval for servers that cannot push")
	f.DurationVar(&opts.refresh, "refresh", watcher.DefaultRefresh, "resubscribe and re-read everything this often")
	f.BoolVar(&opts.noPush, "no-push", false, "poll every server; never open watch connections")
	return cmd
}

// tuiRun merges the caps given with the remembered ones, saves them, and
// shows the dashboard until the user quits or ctx is done.
func tuiRun(ctx context.Context, opts *tuiOptions) error {
	caps, err := opts.caps()
	if err != nil {
		return err
	}
	cfg, err := opts.load(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, err := tui.NewWatcherSource(ctx, caps, watcher.Options{Grid: cfg.Grid, NoPush: opts.noPush,
		Poll: opts.poll, Refresh: opts.refresh, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer src.Close()
	save := func(cs []string) error {
		if opts.watchList == "" {
			return nil
		}
		return tui.SaveWatchList(opts.watchList, cs)
	}
	if err := save(src.Caps()); err != nil {
		return err
	}
	m := tui.New(src, tui.Options{Renderer: renderer(opts.s), Saved: save, Caps: src.Caps})
	if opts.run != nil {
		return opts.run(ctx, m)
	}
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithAltScreen(), tea.WithMouseCellMotion(),
		tea.WithInput(opts.s.In), tea.WithOutput(opts.s.Out))
	_, err = p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// caps parses the arguments and the watch list into read caps.
func (opts *tuiOptions) caps() ([]cap.Cap, error) {
	var caps []cap.Cap
	if opts.watchList != "" {
		saved, err := tui.LoadWatchList(opts.watchList)
		if err != nil {
			return nil, err
		}
		caps = saved
	}
	for _, a := range opts.args {
		c, err := cap.Parse(a)
		if err != nil {
			return nil, err
		}
		if m, ok := c.ReadOnly().(*cap.Mutable); !ok || m.Access == cap.Verify {
			return nil, errkind.E("tui", errkind.Usage, "%s: only mutable files and directories can be watched", cap.Abbrev(c))
		}
		caps = append(caps, c.ReadOnly())
	}
	return caps, nil
}

// renderer styles for the output stream, without colour under NO_COLOR.
func renderer(s Streams) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(s.Out)
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

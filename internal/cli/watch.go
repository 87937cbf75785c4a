package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/hook"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// watchOptions are the flags of the root command, "tahoe-watch CAP...".
type watchOptions struct {
	gridOptions
	args    []string // CAP[/PATH] arguments
	command []string // after "--"

	json      bool
	format    string
	once      bool
	count     int
	recursive bool
	timingOptions
	logOpts logging.Options
	capFile string // --cap-file: more CAP[/PATH] targets, one per line
	filter  eventFilter
	typed   map[string]typedPath   // resolved CAP/PATH arguments, by the read cap watched
	changed func(flag string) bool // whether a flag was given; nil in tests
	metrics string                 // --metrics-listen address, "" for off
	nats    natsOptions

	exec        string
	stdin       bool
	debounce    time.Duration
	onBusy      string
	hookTimeout time.Duration
	signal      string

	out, errOut io.Writer
	logger      *slog.Logger
}

// addWatchRoot makes the root command itself the watcher:
// "tahoe-watch [flags] CAP... [-- CMD ARGS...]".
func addWatchRoot(root *cobra.Command, s Streams) {
	opts := &watchOptions{out: s.Out, errOut: s.Err}
	root.Use = "tahoe-watch [flags] CAP[/PATH]... [-- CMD ARGS...]"
	root.Example = `  tahoe-watch --grid servers.yaml URI:SSK-RO:xxx:yyy
  tahoe-watch --json -r URI:DIR2-RO:xxx:yyy | jq .path
  tahoe-watch --once URI:MDMF-RO:xxx:yyy && echo changed
  tahoe-watch --stdin URI:SSK-RO:xxx:yyy -- sh -c 'wc -c'
  tahoe-watch demo`
	root.Long += `

Given caps, tahoe-watch watches them: it prints one line per verified change
on stdout (text, --json or --format), logs on stderr, and can run a command
per change (--exec 'CMD' or -- CMD ARGS...). A write cap is reduced to its
read cap at once and never printed, logged or passed to the command;
--cap-file FILE keeps caps off the command line, where ps shows them.

Exit status: 0 when --once/--count is satisfied or on SIGINT/SIGTERM; 1 on
a failure (a path that does not resolve); 2 on a usage error (flags, caps,
grid file); with --once/--count and a hook, the hook's exit status when its
last run failed (127: command not found). Events, hook environment and exit
codes in full: docs/events.md.`
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if dash := cmd.ArgsLenAtDash(); dash >= 0 {
			args, opts.command = args[:dash], args[dash:]
		}
		if err := checkCommandTypo(cmd.Root(), args); err != nil {
			return err
		}
		if opts.capFile != "" {
			more, err := readCapList(opts.capFile)
			if err != nil {
				return err
			}
			args = append(args, more...)
		}
		if len(args) == 0 {
			if len(opts.command) > 0 || cmd.Flags().NFlag() > 0 {
				return &usageError{fmt.Errorf("no cap to watch: give at least one CAP")}
			}
			return cmd.Help() // a bare "tahoe-watch" shows the help
		}
		opts.args = args
		opts.changed = cmd.Flags().Changed
		return watchRun(cmd.Context(), opts)
	}
	addGridFlags(root, &opts.gridOptions)
	f := root.Flags()
	f.BoolVar(&opts.json, "json", false, "print events as NDJSON (schema: docs/events.md)")
	f.StringVar(&opts.format, "format", "", "print each event with a Go `TEMPLATE` (fields: docs/events.md)")
	f.BoolVar(&opts.once, "once", false, "exit after the first change")
	f.IntVar(&opts.count, "count", 0, "exit after `N` changes")
	f.BoolVarP(&opts.recursive, "recursive", "r", false, "watch directories and every mutable below them")
	addTimingFlags(f, &opts.timingOptions)
	addLogFlags(f, &opts.logOpts)
	opts.filter.addFlags(f)
	f.StringVar(&opts.capFile, capFileFlag, "", "also watch the CAP[/PATH] targets in `FILE`, one per line (# comments); keeps caps off the command line")
	f.StringVar(&opts.metrics, "metrics-listen", "", "serve Prometheus metrics on http://`ADDR`/metrics (default off)")
	f.StringVar(&opts.exec, "exec", "", "run `CMD` with sh -c for each change")
	f.BoolVar(&opts.stdin, "stdin", false, "pipe the new contents of a changed file to the command")
	f.DurationVar(&opts.debounce, "debounce", hook.DefaultDebounce, "run the command once changes are quiet this long (0: at once)")
	f.StringVar(&opts.onBusy, "on-busy", string(hook.Queue), "`POLICY` for changes that come while the command runs: queue (run again for all of them), do-nothing, restart or signal")
	f.DurationVar(&opts.hookTimeout, "hook-timeout", 0, "stop a command that runs longer than this (0: never)")
	f.StringVar(&opts.signal, "signal", "TERM", "`SIGNAL` that --on-busy signal sends: TERM, INT, HUP, USR1, USR2, KILL or QUIT")
	addNatsFlags(f, &opts.nats)
}

// watchRun parses the caps, loads the grid and watches until ctx is done
// or --once/--count is satisfied.
func watchRun(ctx context.Context, opts *watchOptions) error {
	if err := opts.validate(); err != nil {
		return err
	}
	printer, runner, err := opts.outputs()
	if err != nil {
		return err
	}
	log := opts.log()
	args, err := parseWatchArgs(opts.args)
	if err != nil {
		return err
	}
	cfg, err := opts.load(ctx)
	if err != nil {
		return err
	}
	caps, typed, err := resolveWatchArgs(ctx, cfg.Grid, args)
	if err != nil {
		return err
	}
	opts.typed = typed
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	printer, closeNats, err := opts.nats.wrap(ctx, printer, log)
	if err != nil {
		return err
	}
	mc, served := serveMetrics(ctx, cancel, opts.metrics)
	wo := watcher.Options{Grid: cfg.Grid, Recursive: opts.recursive, Contents: opts.stdin && runner != nil, Logger: log,
		ReadyEvent: opts.json, // docs/events.md: ready is a --json event; text and templates keep one line per change
		Metrics:    mc}
	opts.timingOptions.apply(&wo)
	w, err := watcher.New(caps, wo)
	if err == nil {
		err = runWatch(ctx, opts, w, printer, runner, log)
	}
	if nerr := closeNats(); err == nil {
		err = nerr
	}
	cancel()
	if merr := <-served; merr != nil {
		return merr
	}
	return err
}

// serveMetrics serves /metrics on addr until ctx is done and returns the
// watcher's metrics (nil when addr is ""). The channel yields Serve's
// error once it returns; a failure to listen also cancels the watch.
func serveMetrics(ctx context.Context, cancel context.CancelFunc, addr string) (*metrics.Client, <-chan error) {
	served := make(chan error, 1)
	if addr == "" {
		served <- nil
		return nil, served
	}
	reg := metrics.New()
	go func() {
		err := reg.Serve(ctx, addr)
		if err != nil {
			cancel()
		}
		served <- err
	}()
	return reg.Client, served
}

// log returns the logger the logging flags ask for, on stderr (validate
// has checked them).
func (opts *watchOptions) log() *slog.Logger {
	if opts.logger == nil {
		l, err := newLogger(opts.errOut, opts.logOpts)
		if err != nil {
			l = slog.New(slog.NewTextHandler(cap.ScrubWriter(opts.errOut), nil))
		}
		opts.logger = l
	}
	return opts.logger
}

// outputs builds the printer and the hook runner the flags ask for.
func (opts *watchOptions) outputs() (events.Printer, *hook.Runner, error) {
	var printer events.Printer = events.Text{}
	switch {
	case opts.json && opts.format != "":
		return nil, nil, &usageError{fmt.Errorf("--json and --format exclude each other")}
	case opts.json:
		printer = events.JSON{}
	case opts.format != "":
		t, err := events.NewTemplate(opts.format)
		if err != nil {
			return nil, nil, err
		}
		printer = t
	}
	if opts.count < 0 {
		return nil, nil, &usageError{fmt.Errorf("--count must not be negative")}
	}
	if opts.once {
		opts.count = 1
	}
	runner, err := opts.hookRunner()
	return printer, runner, err
}

// hookRunner builds the runner for --exec or "-- CMD", or nil.
func (opts *watchOptions) hookRunner() (*hook.Runner, error) {
	var argv []string
	switch {
	case opts.exec != "" && len(opts.command) > 0:
		return nil, &usageError{fmt.Errorf("--exec and -- CMD exclude each other")}
	case opts.exec != "":
		argv = hook.Shell(opts.exec)
	case len(opts.command) > 0:
		argv = opts.command
	case opts.stdin:
		return nil, &usageError{fmt.Errorf("--stdin needs --exec or -- CMD")}
	default:
		return nil, nil
	}
	policy, err := hook.ParsePolicy(opts.onBusy)
	if err != nil {
		return nil, err
	}
	sig, err := parseSignal(opts.signal)
	if err != nil {
		return nil, err
	}
	debounce := opts.debounce
	if debounce == 0 {
		debounce = -1 // the flag's 0 means none
	}
	return hook.New(hook.Options{Argv: argv, Stdin: opts.stdin, Debounce: debounce, OnBusy: policy,
		Signal: sig, Timeout: opts.hookTimeout, Stdout: opts.out, Stderr: opts.errOut, Logger: opts.log()})
}

func parseSignal(s string) (syscall.Signal, error) {
	if sig, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, &usageError{fmt.Errorf("--signal %q: want TERM, INT, HUP, USR1, USR2, KILL or QUIT", s)}
}

// watchArg is one CAP[/PATH] argument, already reduced to a read cap.
type watchArg struct {
	c    cap.Cap
	path []string
}

// parseWatchArgs parses the arguments and reduces every cap to its read
// cap at once, so that no write cap goes further.
func parseWatchArgs(args []string) ([]watchArg, error) {
	var out []watchArg
	for _, a := range args {
		c, path, err := parseTarget(a)
		if err != nil {
			return nil, err
		}
		out = append(out, watchArg{c: c.ReadOnly(), path: path})
	}
	return out, nil
}

// resolveWatchArgs follows the paths below directory caps. typed maps
// the read cap each CAP/PATH resolved to back to the cap and path the
// user gave, so that events can say them.
func resolveWatchArgs(ctx context.Context, g *grid.Grid, args []watchArg) (caps []cap.Cap, typed map[string]typedPath, err error) {
	typed = map[string]typedPath{}
	var r *retrieve.Reader
	for _, a := range args {
		if len(a.path) == 0 {
			caps = append(caps, a.c)
			continue
		}
		if r == nil {
			r = retrieve.NewReader(g, nil, nil)
			defer r.Close()
		}
		c, err := r.Resolve(ctx, a.c, a.path)
		if err != nil {
			return nil, nil, err
		}
		caps = append(caps, c.ReadOnly())
		if _, dup := typed[c.ReadOnly().String()]; !dup {
			typed[c.ReadOnly().String()] = typedPath{root: a.c.String(), path: strings.Join(a.path, "/")}
		}
	}
	return caps, typed, nil
}

// runWatch runs the watcher, printing events and feeding the hook, until
// ctx is done or enough changes were seen.
// A signal (parent done) stops a running command; --count lets the last
// change's command finish.
func runWatch(parent context.Context, opts *watchOptions, w *watcher.Watcher, p events.Printer, runner *hook.Runner, log *slog.Logger) error {
	ctx, stop := context.WithCancel(parent)
	defer stop()
	hookIn := make(chan events.Event, 64)
	var wg sync.WaitGroup
	if runner != nil {
		wg.Add(1)
		go func() { defer wg.Done(); runner.Run(parent, hookIn) }()
	}
	var printErr error
	changes := 0
	err := w.Run(ctx, func(e events.Event) {
		opts.complete(&e)
		if !opts.filter.keep(e) {
			return
		}
		if err := p.Print(opts.out, e); err != nil && printErr == nil {
			printErr = err
			stop()
		}
		if runner != nil {
			select {
			case hookIn <- e:
			case <-ctx.Done():
			}
		}
		if e.Type.IsChange() {
			if changes++; opts.count > 0 && changes >= opts.count {
				stop()
			}
		}
	})
	close(hookIn)
	wg.Wait()
	log.Debug("stopped", "changes", changes)
	if err == nil && printErr != nil {
		err = errkind.E("watch", errkind.Other, printErr)
	}
	if err == nil && runner != nil && opts.count > 0 && changes >= opts.count {
		err = hookStatus(runner)
	}
	return err
}

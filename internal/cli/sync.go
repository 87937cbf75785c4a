package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
	"github.com/tahoe-watch/tahoe-watch/internal/hook"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// syncOptions are the flags of "tahoe-watch sync DIRCAP LOCALDIR".
type syncOptions struct {
	writeOptions
	target, dir string
	capFile     string

	mode   string
	ignore []string
	device string
	settle time.Duration
	log    logging.Options

	json     bool
	exec     string
	delete   bool
	once     bool
	parallel int
	timingOptions
	verbose  bool
	progress string

	out, errOut io.Writer
}

func newSyncCommand(s Streams) *cobra.Command {
	opts := &syncOptions{out: s.Out, errOut: s.Err}
	cmd := &cobra.Command{
		Use:   "sync [--mode mirror|two-way|upload] [--cap-file FILE] DIRCAP[/PATH] LOCALDIR",
		Short: "Keep LOCALDIR a live copy of a Tahoe directory tree, one way or both ways",
		Long: `Mirror a Tahoe-LAFS directory tree into LOCALDIR, then apply every change
the grid reports (pushed, or polled where servers cannot push) as it happens.

--mode mirror (the default) is one-way, grid to local. Local edits are never
overwritten: a remote change to a file edited locally is written beside it
as NAME.conflict-TIME-SEQNUM, and a file edited locally and removed remotely
is kept.

--mode two-way (needs the directory's write cap) also sends local changes
to the grid: a new or changed file is uploaded once nothing has written it
for --quiet-period and linked into its directory (a mutable file stays
mutable); new directories, deletes and renames go up too. Several devices
may share one write cap. When a file changed both here and on the grid
since the last sync, the grid's version keeps the name and this device's
becomes NAME.conflict-DEVICE-TIME, on every device; a file changed here is
never deleted or overwritten by a remote change. Edits made while sync was
not running are reconciled on the next start. Nothing below
LOCALDIR/.tahoe-watch, no temporary file and no path matching --ignore or
a line of LOCALDIR/.tahoe-watch-ignore leaves the machine.

--mode upload (needs the write cap) is a live one-way backup of LOCALDIR:
local changes go up as in two-way, replacing whatever the grid holds
there; nothing is downloaded.

State lives in LOCALDIR/.tahoe-watch (read caps only); a restart downloads
only what changed. Names that could leave LOCALDIR are skipped. See
docs/sync.md.

With --cap-file FILE the cap is read from FILE (surrounding white space
trimmed) and only LOCALDIR is given: a cap on the command line can be read
by every local user with ps. A FILE holding a write cap must not be
readable by group or others (chmod 600).`,
		Example: `  tahoe-watch sync URI:DIR2-RO:xxx:yyy ~/mirror
  tahoe-watch sync --json --exec 'make -C ~/mirror' URI:DIR2:xxx:yyy ~/mirror
  tahoe-watch sync --once URI:DIR2-CHK:xxx:yyy:3:10:1234 ./snapshot
  tahoe-watch sync --cap-file ~/.config/tahoe-watch/shared.cap ~/Shared
  tahoe-watch sync --mode two-way --ignore '*.swp' --cap-file ~/shared.cap ~/Shared`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.setArgs(args); err != nil {
				return err
			}
			return syncRun(cmd.Context(), opts)
		},
	}
	addWriteFlags(cmd, &opts.writeOptions, true)
	f := cmd.Flags()
	f.StringVar(&opts.mode, "mode", "mirror", "`MODE`: mirror (grid to LOCALDIR), two-way (both ways) or upload (LOCALDIR to grid, a live backup); the last two need a write cap")
	f.StringArrayVar(&opts.ignore, "ignore", nil, "two-way, upload: never upload paths matching `GLOB` (repeatable; also LOCALDIR/.tahoe-watch-ignore)")
	f.StringVar(&opts.device, "device", "", "two-way: this device's `NAME` in conflict copies (default: the host name)")
	f.DurationVar(&opts.settle, "quiet-period", mirror.DefaultQuiet, "two-way, upload: upload a file once nothing has written it for this long")
	logging.AddFlags(f, &opts.log)
	fixed := func(vals ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return vals, cobra.ShellCompDirectiveNoFileComp
		}
	}
	cmd.RegisterFlagCompletionFunc("mode", fixed("mirror", "two-way", "upload"))
	cmd.RegisterFlagCompletionFunc("log-level", fixed(logging.Levels...))
	cmd.RegisterFlagCompletionFunc("log-format", fixed(logging.Formats...))
	f.StringVar(&opts.capFile, "cap-file", "", "read DIRCAP[/PATH] from `FILE` instead of the command line (ps shows arguments)")
	f.BoolVar(&opts.json, "json", false, "print events and progress as NDJSON on stdout (docs/sync.md)")
	f.StringVar(&opts.exec, "exec", "", "run `CMD` with sh -c after each applied change")
	f.BoolVar(&opts.delete, "delete", true, "delete local files whose entries were removed remotely (unless edited locally)")
	f.BoolVar(&opts.once, "once", false, "mirror once and exit; do not watch")
	f.IntVar(&opts.parallel, "parallel", mirror.DefaultParallel, "download up to `N` files at once")
	addTimingFlags(f, &opts.timingOptions)
	f.Lookup("refresh").Usage = "resubscribe and reconcile the whole tree this often (at least 1s)"
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "log debug detail on stderr")
	f.StringVar(&opts.progress, "progress", "auto", "progress bar on stderr: `WHEN`, auto (when a terminal), always or never")
	return cmd
}

// setArgs takes DIRCAP and LOCALDIR from args, or DIRCAP from --cap-file.
func (o *syncOptions) setArgs(args []string) error {
	switch {
	case o.capFile == "" && len(args) == 2:
		o.target, o.dir = args[0], args[1]
		return nil
	case o.capFile == "":
		return &usageError{fmt.Errorf("want DIRCAP[/PATH] LOCALDIR")}
	case len(args) != 1:
		return &usageError{fmt.Errorf("with --cap-file, want only LOCALDIR")}
	}
	target, err := readCapFile(o.capFile)
	if err != nil {
		return err
	}
	o.target, o.dir = target, args[0]
	return nil
}

// syncRun mirrors the tree, then follows it until ctx is done.
func syncRun(ctx context.Context, opts *syncOptions) error {
	const op = "sync"
	if opts.parallel < 1 {
		return &usageError{fmt.Errorf("--parallel must be at least 1")}
	}
	if err := opts.timingOptions.check(); err != nil {
		return err
	}
	if opts.settle <= 0 {
		// mirror.Push reads 0 as its default: refuse it rather than
		// silently wait DefaultQuiet.
		return &usageError{fmt.Errorf("--quiet-period %s: want more than 0", opts.settle)}
	}
	if !slices.Contains(progressModes, opts.progress) {
		return &usageError{fmt.Errorf("--progress %q: want %s", opts.progress, strings.Join(progressModes, ", "))}
	}
	c, path, err := parseTarget(opts.target)
	if err != nil {
		return err
	}
	opts.log.Verbose = opts.verbose
	log, err := newLogger(opts.errOut, opts.log)
	if err != nil {
		return err
	}
	tw, err := opts.twoWay(c)
	if err != nil {
		return err
	}
	var cfg *gridconfig.Config
	var push *mirror.Push
	if tw {
		w, err := opts.writeOptions.open(ctx)
		if err != nil {
			return err
		}
		defer w.Close()
		cfg = w.cfg
		if push, err = opts.pushOptions(w); err != nil {
			return err
		}
		if c, err = w.ed.Dir(ctx, c, path, false); err != nil {
			return err
		}
		path = nil
	} else {
		c = c.ReadOnly()
		if cfg, err = opts.grid.load(ctx); err != nil {
			return err
		}
	}
	r := retrieve.NewReader(cfg.Grid, nil, nil)
	defer r.Close()
	if len(path) > 0 {
		if c, err = r.Resolve(ctx, c, path); err != nil {
			return err
		}
		c = c.ReadOnly()
	}
	out := &syncOutput{w: opts.out, json: opts.json}
	bar := newProgressBar(opts.errOut, opts.progress, opts.json)
	var wo watcher.Options
	opts.timingOptions.apply(&wo)
	m, err := mirror.Open(c, opts.dir, mirror.Options{Grid: cfg.Grid, Reader: r, Parallel: opts.parallel,
		Keep: !opts.delete, Logger: log, Progress: func(p mirror.ProgressEvent) { out.progress(p); bar.show(p) },
		Watch: wo, Push: push})
	if err != nil {
		return err
	}
	defer m.Close()
	if opts.once {
		return m.Sync(ctx, out.event)
	}
	runner, err := syncHook(opts, log)
	if err != nil {
		return err
	}
	hookIn := make(chan events.Event, 64)
	var wg sync.WaitGroup
	if runner != nil {
		wg.Add(1)
		go func() { defer wg.Done(); runner.Run(ctx, hookIn) }()
	}
	err = m.Run(ctx, func(e events.Event) {
		out.event(e)
		if runner != nil && e.Type.IsChange() && e.Type != mirror.Progress {
			select {
			case hookIn <- e:
			case <-ctx.Done():
			}
		}
	})
	close(hookIn)
	wg.Wait()
	if err == nil && out.err != nil {
		err = errkind.E(op, errkind.Other, out.err)
	}
	return err
}

// twoWay checks --mode against the cap and reports whether local
// changes are uploaded: two-way and upload need a directory write cap
// and cannot run --once.
func (o *syncOptions) twoWay(c cap.Cap) (bool, error) {
	switch o.mode {
	case "", "mirror":
		return false, nil
	case "two-way", "upload":
	default:
		return false, &usageError{fmt.Errorf("--mode %q: want mirror, two-way or upload", o.mode)}
	}
	if m, ok := c.(*cap.Mutable); !ok || !m.Dir || m.Access != cap.Write {
		return false, &usageError{fmt.Errorf("--mode %s needs a directory write cap (URI:DIR2:… or URI:DIR2-MDMF:…), not %s", o.mode, cap.Abbrev(c))}
	}
	if o.once {
		return false, &usageError{fmt.Errorf("--mode %s follows LOCALDIR live; --once is for mirrors", o.mode)}
	}
	if !o.delete && o.mode == "two-way" {
		return false, &usageError{fmt.Errorf("--mode two-way applies remote deletes (a kept file would be uploaded again); --delete=false is for mirrors")}
	}
	return true, nil
}

// pushOptions are the two-way settings, with the grid's write path.
func (o *syncOptions) pushOptions(w *writer) (*mirror.Push, error) {
	conv, err := w.convergence(&o.writeOptions)
	if err != nil {
		return nil, err
	}
	dev := o.device
	if dev == "" {
		dev, _ = os.Hostname()
	}
	return &mirror.Push{Editor: w.ed, Uploader: w.uploader(conv), Device: dev, Quiet: o.settle, Ignore: o.ignore,
		Upload: o.mode == "upload"}, nil
}

// syncHook builds the --exec runner, or nil.
func syncHook(opts *syncOptions, log *slog.Logger) (*hook.Runner, error) {
	if opts.exec == "" {
		return nil, nil
	}
	return hook.New(hook.Options{Argv: hook.Shell(opts.exec), Debounce: -1, Stdout: opts.out, Stderr: opts.errOut, Logger: log})
}

// syncOutput prints events and progress on stdout: text lines, or
// NDJSON with --json (progress only with --json).
type syncOutput struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	err  error
}

func (o *syncOutput) event(e events.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	switch {
	case o.json:
		err = events.JSON{}.Print(o.w, e)
	case e.Type == mirror.Conflict || e.Type == events.Warning:
		_, err = fmt.Fprintf(o.w, "%s %-8s %s: %s\n", e.Time.Format("15:04:05.000"), e.Type, e.Path, e.Message)
	case e.Mutable: // immutables have no seqnum to show
		_, err = fmt.Fprintf(o.w, "%s %-8s %s seq %d, %d bytes\n", e.Time.Format("15:04:05.000"), e.Type, e.Path, e.Seqnum, e.Size)
	default:
		_, err = fmt.Fprintf(o.w, "%s %-8s %s %d bytes\n", e.Time.Format("15:04:05.000"), e.Type, e.Path, e.Size)
	}
	if err != nil && o.err == nil {
		o.err = err
	}
}

func (o *syncOutput) progress(p mirror.ProgressEvent) {
	if !o.json {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	b, err := json.Marshal(p)
	if err == nil {
		_, err = o.w.Write(append(b, '\n'))
	}
	if err != nil && o.err == nil {
		o.err = err
	}
}

// progressBar redraws one status line on a terminal.
type progressBar struct {
	w  io.Writer
	on bool
}

func newProgressBar(w io.Writer, mode string, jsonOut bool) *progressBar {
	on := mode == "always"
	if mode == "auto" && !jsonOut {
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				on = true
			}
		}
	}
	return &progressBar{w: w, on: on}
}

func (b *progressBar) show(p mirror.ProgressEvent) {
	if !b.on {
		return
	}
	eta := "?"
	if p.ETASeconds >= 0 {
		eta = (time.Duration(p.ETASeconds) * time.Second).String()
	}
	end := ""
	if p.Done {
		end = "\n"
	}
	fmt.Fprintf(b.w, "\r\033[K%d/%d files  %s/%s  %s/s  ETA %s%s", p.FilesDone, p.Files,
		humanBytes(float64(p.BytesDone)), humanBytes(float64(p.Bytes)), humanBytes(p.Rate), eta, end)
}

func humanBytes(n float64) string {
	const unit = 1024
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

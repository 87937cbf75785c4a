package cli

import (
	"fmt"
	"log/slog"
	"path"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/hook"
)

// validate checks every flag value of the watcher before anything runs,
// so a typo is exit 2 at once rather than a surprise later.
func (opts *watchOptions) validate() error {
	for _, check := range []func() error{opts.checkLogFlags, opts.checkCounts, opts.timingOptions.check, opts.checkHookFlags, opts.filter.check} {
		if err := check(); err != nil {
			return err
		}
	}
	opts.warnIgnored()
	return nil
}

// warnIgnored warns about flags that were given but do nothing with the
// others given: a silent no-op hides a mistake.
func (opts *watchOptions) warnIgnored() {
	if opts.changed == nil {
		return
	}
	hasHook := opts.exec != "" || len(opts.command) > 0
	for _, f := range []struct {
		flag, why string
		ignored   bool
	}{
		{"debounce", "there is no --exec or -- CMD", !hasHook},
		{"on-busy", "there is no --exec or -- CMD", !hasHook},
		{"hook-timeout", "there is no --exec or -- CMD", !hasHook},
		{"signal", "--on-busy is not signal", opts.onBusy != string(hook.Signal)},
	} {
		if f.ignored && opts.changed(f.flag) {
			userLine(opts.errOut, opts.logOpts.Format == "json", slog.LevelWarn, fmt.Sprintf("--%s is ignored: %s", f.flag, f.why))
		}
	}
}

func (opts *watchOptions) checkLogFlags() error {
	if err := opts.logOpts.Validate(); err != nil {
		return errkind.E("logging", errkind.Usage, err)
	}
	return nil
}

func (opts *watchOptions) checkCounts() error {
	switch {
	case opts.once && opts.count != 0:
		return &usageError{fmt.Errorf("--once and --count exclude each other (--once is --count 1)")}
	case opts.count < 0:
		return &usageError{fmt.Errorf("--count %d: want a positive number of changes", opts.count)}
	}
	return nil
}

func (opts *watchOptions) checkHookFlags() error {
	switch {
	case opts.debounce < 0:
		return &usageError{fmt.Errorf("--debounce %s: want 0 (none) or more", opts.debounce)}
	case opts.hookTimeout < 0:
		return &usageError{fmt.Errorf("--hook-timeout %s: want 0 (never) or more", opts.hookTimeout)}
	}
	if _, err := hook.ParsePolicy(opts.onBusy); err != nil {
		return err
	}
	_, err := parseSignal(opts.signal)
	return err
}

// hookStatus is the error --once/--count exit with once the hook's last
// run failed: its exit status becomes tahoe-watch's.
func hookStatus(r *hook.Runner) error {
	if st := r.LastStatus(); st != 0 {
		return hookExit{&hook.StatusError{Status: st}}
	}
	return nil
}

// hookExit is a run that already happened and failed: ExitCode finds its
// *hook.StatusError, and its line says the status in words (the status
// error's own text, meant for a command that could not start, would end
// in the cause it does not have).
type hookExit struct{ *hook.StatusError }

func (e hookExit) Error() string {
	why := map[int]string{hook.StatusNotFound: " (command not found)", hook.StatusNotExecutable: " (command could not be executed)"}[e.Status]
	return fmt.Sprintf("the command's last run failed with exit status %d%s", e.Status, why)
}

func (e hookExit) Unwrap() error { return e.StatusError }

// typedPath is a CAP/PATH argument as the user gave it (the cap reduced
// to its read cap).
type typedPath struct{ root, path string }

// complete finishes an event from the watcher before any sink sees it:
// the fields derived from its cap, and, for a watched CAP/PATH, the root
// and path the user typed instead of the resolved child's.
func (opts *watchOptions) complete(e *events.Event) {
	if tp, ok := opts.typed[e.Root]; ok {
		e.Root, e.Path = tp.root, path.Join(tp.path, e.Path)
	}
	e.Describe()
}

package cli

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// minInterval is the shortest --poll and --refresh the watcher takes: a
// shorter one would have every watcher hammer the servers.
const minInterval = time.Second

// timingOptions are the flags that say how often a watcher asks the
// servers, shared by the root command, tui and sync.
type timingOptions struct {
	poll    time.Duration
	refresh time.Duration
	remap   time.Duration
	noPush  bool
}

// addTimingFlags defines --poll, --refresh, --remap and --no-push on f.
func addTimingFlags(f *pflag.FlagSet, o *timingOptions) {
	f.DurationVar(&o.poll, "poll", watcher.DefaultPoll, "poll interval for servers that cannot push (at least 1s)")
	f.DurationVar(&o.refresh, "refresh", watcher.DefaultRefresh,
		"resubscribe on every watch connection this often, re-reading only what the servers' answers disagree about (at least 1s)")
	f.DurationVar(&o.remap, "remap", watcher.DefaultRemap,
		"re-read every cap on every server this often, to find servers that newly hold shares and verify every share (never less often than --refresh)")
	f.BoolVar(&o.noPush, "no-push", false, "poll every server; never open watch connections")
}

// check refuses a --poll or --refresh below minInterval. A --remap below
// --refresh is taken as --refresh (the watcher's rule), so that a long
// --refresh alone is not an error.
func (o *timingOptions) check() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"--poll", o.poll}, {"--refresh", o.refresh}} {
		if f.d < minInterval {
			return &usageError{fmt.Errorf("%s %s: want at least %s", f.name, f.d, minInterval)}
		}
	}
	return nil
}

// apply sets the watcher options the flags give.
func (o *timingOptions) apply(w *watcher.Options) {
	w.Poll, w.Refresh, w.Remap, w.NoPush = o.poll, o.refresh, o.remap, o.noPush
}

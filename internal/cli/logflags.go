package cli

import (
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// addLogFlags registers -v/--verbose, -q/--quiet, --log-level and
// --log-format on a long-running client command (the watcher, sync).
func addLogFlags(f *pflag.FlagSet, o *logging.Options) {
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "log debug detail on stderr (same as --log-level debug)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "log only errors on stderr (same as --log-level error)")
	logging.AddFlags(f, o)
}

// newLogger builds the logger the flags ask for, writing to w through
// cap.ScrubWriter so that no log line shows a write cap. Bad flag values
// are usage errors.
func newLogger(w io.Writer, o logging.Options) (*slog.Logger, error) {
	l, err := logging.New(cap.ScrubWriter(w), o)
	if err != nil {
		return nil, errkind.E("logging", errkind.Usage, err)
	}
	return l, nil
}

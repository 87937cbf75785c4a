// Package logging builds the slog loggers of the long-running commands
// (serve, notifier, the watcher, sync) from one set of flags:
// --log-level, --log-format text|json, and the -v/-q shorthands.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// Options are the logging flags of one command.
type Options struct {
	// Level is "debug", "info", "warn" or "error"; "" means info.
	Level string
	// Format is "text" or "json"; "" means text.
	Format string
	// Verbose (-v) lowers the level to debug; Quiet (-q) raises it to
	// error. Either overrides Level; both together are refused.
	Verbose, Quiet bool
}

// AddFlags registers --log-level and --log-format on fs. Commands that
// have -v/-q register those themselves and set Verbose/Quiet.
func AddFlags(fs *pflag.FlagSet, o *Options) {
	fs.StringVar(&o.Level, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&o.Format, "log-format", "text", "log `FORMAT`: text (key=value) or json (one object per line)")
}

// Levels and Formats are the accepted flag values, for completions.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"text", "json"}
)

// Validate reports a flag value that New would refuse.
func (o Options) Validate() error {
	_, err := o.level()
	if err == nil {
		_, err = o.handler(io.Discard, slog.LevelInfo)
	}
	return err
}

// New returns a logger writing to w as the options say.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	level, err := o.level()
	if err != nil {
		return nil, err
	}
	h, err := o.handler(w, level)
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}

func (o Options) level() (slog.Level, error) {
	switch {
	case o.Verbose && o.Quiet:
		return 0, fmt.Errorf("-v and -q exclude each other")
	case o.Verbose:
		return slog.LevelDebug, nil
	case o.Quiet:
		return slog.LevelError, nil
	}
	switch strings.ToLower(o.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: want one of %s", o.Level, strings.Join(Levels, ", "))
}

func (o Options) handler(w io.Writer, level slog.Level) (slog.Handler, error) {
	ho := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.Format) {
	case "", "text":
		return slog.NewTextHandler(w, ho), nil
	case "json":
		return slog.NewJSONHandler(w, ho), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", o.Format)
}

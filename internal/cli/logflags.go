package cli

import (
	"context"
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
// cap.ScrubWriter so that no log line shows a write cap. Below debug
// level, error attributes are logged in words (errkind.Message), without
// the operation names a developer needs. Bad flag values are usage errors.
func newLogger(w io.Writer, o logging.Options) (*slog.Logger, error) {
	l, err := logging.New(cap.ScrubWriter(w), o)
	if err != nil {
		return nil, errkind.E("logging", errkind.Usage, err)
	}
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return l, nil
	}
	return slog.New(wordsHandler{l.Handler()}), nil
}

// wordsHandler logs error-valued attributes as errkind.Message.
type wordsHandler struct{ slog.Handler }

func (h wordsHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(inWords(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h wordsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	words := make([]slog.Attr, len(as))
	for i, a := range as {
		words[i] = inWords(a)
	}
	return wordsHandler{h.Handler.WithAttrs(words)}
}

func (h wordsHandler) WithGroup(name string) slog.Handler {
	return wordsHandler{h.Handler.WithGroup(name)}
}

// inWords replaces an error value by its message in words.
func inWords(a slog.Attr) slog.Attr {
	if err, ok := a.Value.Any().(error); ok && a.Value.Kind() == slog.KindAny {
		return slog.String(a.Key, errkind.Message(err))
	}
	return a
}

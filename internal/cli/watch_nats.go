package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout"
)

// natsOptions are the watcher's --nats* flags (docs/nats.md).
type natsOptions struct {
	url, stream, subject, creds string
	buffer                      int
}

// addNatsFlags registers the --nats* flags on the watcher's flag set.
func addNatsFlags(f *pflag.FlagSet, o *natsOptions) {
	f.StringVar(&o.url, "nats", "", "also publish every event to NATS JetStream at `URL` (nats://, tls://; docs/nats.md)")
	f.StringVar(&o.stream, "nats-stream", "", "JetStream stream `NAME`, created if missing (default "+natsout.DefaultStream+"; with $NATS_URL it turns publishing on)")
	f.StringVar(&o.subject, "nats-subject", natsout.DefaultSubjectPrefix, "subject `PREFIX`: events go to PREFIX.<storage index>.<type>")
	f.StringVar(&o.creds, "nats-creds", "", "NATS credentials `FILE` (.creds with JWT and NKey seed)")
	f.IntVar(&o.buffer, "nats-buffer", natsout.DefaultBuffer, fmt.Sprintf("hold up to `N` events (at most %d) while NATS cannot take them, then make the watcher wait", natsout.MaxBuffer))
}

// enabled reports whether publishing is asked for: --nats, or
// --nats-stream with the URL from $NATS_URL. $NATS_URL alone does not
// turn it on, so that a shell set up for the nats CLI does not make
// every watcher create a stream.
func (o *natsOptions) enabled() bool { return o.url != "" || o.stream != "" }

// wrap returns p unchanged when publishing is off; otherwise a printer
// that prints with p and then hands the event to a NATS sink. The
// returned close function publishes what is still buffered and reports
// events that could not be.
func (o *natsOptions) wrap(ctx context.Context, p events.Printer, log *slog.Logger) (events.Printer, func() error, error) {
	if !o.enabled() {
		return p, func() error { return nil }, nil
	}
	url := o.url
	if url == "" {
		url = os.Getenv("NATS_URL")
	}
	if url == "" {
		return nil, nil, &usageError{fmt.Errorf("--nats-stream needs --nats URL or $NATS_URL")}
	}
	if o.buffer < 1 {
		return nil, nil, &usageError{fmt.Errorf("--nats-buffer must be at least 1")}
	}
	sink, err := natsout.New(ctx, natsout.Options{URL: url, Stream: o.stream, Subject: o.subject,
		Creds: o.creds, Buffer: o.buffer, Logger: log.With("sink", "nats")})
	if err != nil {
		return nil, nil, err
	}
	return natsPrinter{Printer: p, ctx: ctx, sink: sink}, sink.Close, nil
}

// natsPrinter prints an event, then publishes it. Publish blocks while
// the sink's buffer is full, which holds the watcher back rather than
// losing events.
type natsPrinter struct {
	events.Printer
	ctx  context.Context
	sink *natsout.Sink
}

// Print prints e with the wrapped printer and queues it for NATS. The
// ready event says how this one watcher started, not what changed on the
// grid, so it is not published: two watchers of an HA pair would
// otherwise store two different ready events under one identity.
func (n natsPrinter) Print(w io.Writer, e events.Event) error {
	err := n.Printer.Print(w, e)
	if e.Type != events.Ready {
		n.sink.Publish(n.ctx, e)
	}
	return err
}

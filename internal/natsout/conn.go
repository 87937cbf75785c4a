package natsout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// withDefaults fills in the defaults and rejects what cannot work.
func (o Options) withDefaults() (Options, error) {
	usage := func(format string, args ...any) (Options, error) {
		return o, errkind.E(op, errkind.Usage, format, args...)
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Subject == "" {
		o.Subject = DefaultSubjectPrefix
	}
	o.Buffer = cmpOr(o.Buffer, DefaultBuffer)
	o.Duplicates = cmpOr(o.Duplicates, DefaultDuplicates)
	o.Grace = cmpOr(o.Grace, DefaultGrace)
	o.MinBackoff = cmpOr(o.MinBackoff, 100*time.Millisecond)
	o.MaxBackoff = cmpOr(o.MaxBackoff, 5*time.Second)
	if o.Name == "" {
		o.Name = "tahoe-watch"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case strings.ContainsAny(o.Stream, ". \t\r\n*>/\\"):
		return usage("NATS stream name %q: no spaces, '.', '*', '>', '/' or '\\'", o.Stream)
	case !validPrefix(o.Subject):
		return usage("NATS subject prefix %q: want dot-separated tokens without wildcards", o.Subject)
	case o.Buffer < 0 || o.Buffer > MaxBuffer:
		return usage("NATS buffer of %d events: want 0 (the default, %d) to %d", o.Buffer, DefaultBuffer, MaxBuffer)
	}
	if err := checkURLs(o.URL); err != nil {
		return o, err
	}
	return o, checkCreds(o.Creds)
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// checkURLs accepts comma-separated nats://, tls://, ws:// and wss://
// URLs, and bare host:port (which NATS reads as nats://).
func checkURLs(list string) error {
	if strings.TrimSpace(list) == "" {
		return errkind.E(op, errkind.Usage, "no NATS server URL")
	}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return errkind.E(op, errkind.Usage, "NATS URL %q: want nats://HOST:PORT or tls://HOST:PORT", redact(s))
		}
		if !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return errkind.E(op, errkind.Usage, "NATS URL %q: scheme %q, want nats, tls, ws or wss", redact(s), u.Scheme)
		}
	}
	return nil
}

// checkCreds makes sure a creds file can be read, without reading it
// into anything that could be logged.
func checkCreds(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is ours to print; the cause is enough
		}
		return errkind.E(op, errkind.Usage, "NATS creds file %s: %v", path, err)
	}
	return f.Close()
}

// redact removes any user, password or token from a URL list, for logs.
func redact(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		if at := strings.LastIndex(s, "@"); at >= 0 {
			scheme, _, ok := strings.Cut(s, "://")
			if !ok {
				scheme = "nats"
			}
			parts[i] = strings.TrimSpace(scheme) + "://[redacted]@" + s[at+1:]
		}
	}
	return strings.Join(parts, ",")
}

// connect connects once; a server that answers and refuses (bad
// credentials, TLS) is an error now, while one that cannot be reached
// yet is retried in the background.
func (s *Sink) connect() (*nats.Conn, error) {
	nc, err := nats.Connect(s.opts.URL, s.connectOptions()...)
	if err == nil {
		return nc, nil
	}
	if !unreachable(err) {
		kind := errkind.Other
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) {
			kind = errkind.Auth
		}
		return nil, errkind.E(op, kind, "connect to %s: %w", redact(s.opts.URL), err)
	}
	s.log.Warn("NATS is not reachable yet; events wait in the buffer until it is",
		"url", redact(s.opts.URL), "err", err)
	return nats.Connect(s.opts.URL, append(s.connectOptions(), nats.RetryOnFailedConnect(true))...)
}

// unreachable reports whether a connect error means no server answered.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded)
}

// connectOptions: reconnect for ever with back-off, fail a publish at
// once while disconnected (the sink retries it), and log the
// connection's ups and downs without credentials.
func (s *Sink) connectOptions() []nats.Option {
	o := []nats.Option{
		nats.Name(s.opts.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(s.opts.backoff),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("NATS disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			s.log.Debug("NATS reconnect failed", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			s.log.Info("NATS connected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.log.Warn("NATS error", "err", err)
		}),
	}
	if s.opts.Creds != "" {
		o = append(o, nats.UserCredentials(s.opts.Creds))
	}
	return o
}

// backoff is the wait before retry or reconnect number attempt (from 0):
// doubling from MinBackoff up to MaxBackoff, with ±20% jitter so that
// many watchers do not retry in step.
func (o Options) backoff(attempt int) time.Duration {
	d := o.MinBackoff
	for i := 0; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	return d - d/5 + rand.N(2*d/5+1)
}

// ensureStream finds the stream or creates it, and makes sure it takes
// the sink's subjects.
func (s *Sink) ensureStream(ctx context.Context) error {
	subjects := s.opts.Subject + ".>"
	_, err := s.js.Stream(ctx, s.opts.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        s.opts.Stream,
			Description: "tahoe-watch verified change events (docs/nats.md)",
			Subjects:    []string{subjects},
			Storage:     jetstream.FileStorage,
			Duplicates:  s.opts.Duplicates,
		})
		switch {
		case err == nil:
			s.log.Info("created NATS stream", "stream", s.opts.Stream, "subjects", subjects,
				"duplicate_window", s.opts.Duplicates)
		case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
			err = nil // another watcher created it first, with other settings
		}
	}
	if err != nil {
		return errkind.E(op, errkind.Unreachable, "stream %s: %w", s.opts.Stream, err)
	}
	name, err := s.js.StreamNameBySubject(ctx, s.opts.Subject+".x.changed")
	if err == nil && name != s.opts.Stream {
		err = fmt.Errorf("subject %s belongs to stream %s", subjects, name)
	}
	if err != nil {
		return errkind.E(op, errkind.Usage, "stream %s does not take the subjects %s: %w", s.opts.Stream, subjects, err)
	}
	return nil
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

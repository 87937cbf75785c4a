// Package natsout is an event sink that publishes verified watcher
// events into a NATS JetStream stream (docs/nats.md).
//
// Each event is published as the JSON object --json prints, on the
// subject PREFIX.<storage index of the watched cap>.<type>, with a
// Nats-Msg-Id derived only from the event's identity (Identity), so
// that any number of watchers of the same caps publishing into one
// stream store each event once within the stream's duplicate window.
//
// Publishing never drops an event silently: events wait in a bounded
// buffer, in order, while one goroutine publishes them and retries a
// failed publish with back-off until JetStream acknowledges it. When the
// buffer is full, Publish blocks (and says so in the log) so the
// watcher slows down instead of skipping; Close waits a grace period
// for the rest and reports any event it could not publish.
package natsout

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// Defaults of Options.
const (
	DefaultStream     = "TAHOE_WATCH"
	DefaultBuffer     = 10000
	DefaultDuplicates = 15 * time.Minute
	DefaultGrace      = 5 * time.Second
	// MaxBuffer bounds Options.Buffer: the buffer is allocated whole at
	// start, so a mistyped --nats-buffer would otherwise cost gigabytes
	// (or a Go panic) before the first event.
	MaxBuffer = 1_000_000
)

// Options configure a Sink. URL is required; the rest have defaults.
type Options struct {
	// URL is one or more comma-separated server URLs, nats:// or tls://
	// (user:password@ or token@ in the URL work as NATS users expect).
	URL string
	// Stream is the JetStream stream; it is created if missing.
	Stream string
	// Subject is the subject prefix (DefaultSubjectPrefix).
	Subject string
	// Creds is the path of a NATS .creds file (JWT and NKey seed); its
	// contents are never logged.
	Creds string
	// Buffer is how many unpublished events are held before Publish
	// blocks.
	Buffer int
	// Duplicates is the duplicate window of a stream the sink creates.
	// It must exceed the time by which two watchers may see one change
	// apart (a watcher that polls or waits for its periodic refresh).
	Duplicates time.Duration
	// Grace is how long Close keeps publishing what is buffered.
	Grace time.Duration
	// MinBackoff and MaxBackoff bound the waits between retries and
	// reconnects (100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// Name is the connection name servers show (default "tahoe-watch").
	Name   string
	Logger *slog.Logger
}

// Sink publishes events to JetStream. Publish is safe for concurrent
// use (events are published in the order Publish accepted them); Close
// is called once, after the last Publish.
type Sink struct {
	opts  Options
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	queue chan events.Event

	ctx    context.Context // the publisher's; canceled when Close's grace ends
	cancel context.CancelFunc
	done   chan struct{}

	pending atomic.Int64 // accepted by Publish, not yet acknowledged
	lost    atomic.Int64 // never accepted: Publish's ctx ended while full
	full    atomic.Bool  // the buffer was full and that was logged
	ready   bool         // the stream is known to exist (publisher only)
	once    sync.Once
}

const op = "natsout"

var errNotConnected = errors.New("not connected to NATS (reconnecting)")

// New checks o, connects and starts publishing. A server that cannot be
// reached yet is not an error: the sink keeps reconnecting and buffers
// meanwhile. A server that answers but refuses the stream is.
func New(ctx context.Context, o Options) (*Sink, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sink{opts: o, log: o.Logger, queue: make(chan events.Event, o.Buffer), done: make(chan struct{})}
	if s.nc, err = s.connect(); err != nil {
		return nil, err
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		s.nc.Close()
		return nil, errkind.E(op, errkind.Other, err)
	}
	if err := s.checkStream(ctx); err != nil {
		s.nc.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go s.run()
	return s, nil
}

// checkStream makes sure of the stream when a server is already there;
// otherwise the publisher does it once one is.
func (s *Sink) checkStream(ctx context.Context) error {
	if !s.nc.IsConnected() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	s.ready = true
	return nil
}

// Publish queues e for publishing. While the buffer is full it blocks
// until there is room or ctx is done; an event it could not queue is
// counted and reported by Close.
func (s *Sink) Publish(ctx context.Context, e events.Event) {
	e.Contents = nil
	select {
	case s.queue <- e:
		s.pending.Add(1)
		return
	default:
	}
	if !s.full.Swap(true) {
		s.log.Error("NATS buffer full: the watcher waits until NATS accepts the oldest events (none is skipped)",
			"buffered", s.opts.Buffer, "url", redact(s.opts.URL))
	}
	select {
	case s.queue <- e:
		s.pending.Add(1)
	case <-ctx.Done():
		s.lost.Add(1)
	}
}

// Close publishes what is buffered for up to the grace period, then
// closes the connection. It returns an error counting the events that
// were not published.
func (s *Sink) Close() error {
	s.once.Do(func() { close(s.queue) })
	grace := time.NewTimer(s.opts.Grace)
	defer grace.Stop()
	select {
	case <-s.done:
	case <-grace.C:
		s.cancel()
		<-s.done
	}
	s.cancel()
	s.nc.Close()
	if n := s.pending.Load() + s.lost.Load(); n > 0 {
		s.log.Error("events NOT published to NATS", "count", n, "url", redact(s.opts.URL))
		return errkind.E(op, errkind.Unreachable, "%d events were not published to NATS stream %s", n, s.opts.Stream)
	}
	return nil
}

// run publishes the queued events in order, each until it is
// acknowledged or the sink is shutting down.
func (s *Sink) run() {
	defer close(s.done)
	for e := range s.queue {
		if s.ctx.Err() != nil {
			continue // counted in pending
		}
		if s.deliver(e) {
			s.pending.Add(-1)
		}
		if len(s.queue) == 0 && s.full.Swap(false) {
			s.log.Info("NATS buffer has room again")
		}
	}
}

// deliver publishes e, retrying with back-off; false if the sink shut
// down first (or e cannot be published at all, which is logged).
func (s *Sink) deliver(e events.Event) bool {
	m, err := s.message(e)
	if err != nil {
		s.log.Error("event cannot be published to NATS", "type", e.Type, "path", e.Path, "err", err)
		return false
	}
	for attempt := 0; ; attempt++ {
		err := s.publish(m)
		if err == nil {
			if attempt > 0 {
				s.log.Info("publishing to NATS again", "after_attempts", attempt+1)
			}
			return true
		}
		if attempt == 0 {
			s.log.Warn("NATS publish failed; retrying until it succeeds", "subject", m.Subject, "err", err)
		} else {
			s.log.Debug("NATS publish failed again", "attempt", attempt+1, "err", err)
		}
		if !sleep(s.ctx, s.opts.backoff(attempt)) {
			return false
		}
	}
}

// publish makes one attempt: the stream first if it is not known yet,
// then the message, waiting for JetStream's acknowledgement.
func (s *Sink) publish(m *nats.Msg) error {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if !s.ready {
		if err := s.ensureStream(ctx); err != nil {
			return err
		}
		s.ready = true
	}
	if !s.nc.IsConnected() {
		return errNotConnected
	}
	ack, err := s.js.PublishMsg(ctx, m)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		s.ready = false // the stream may have been deleted: check again
	}
	if err != nil {
		return err
	}
	if ack.Duplicate {
		s.log.Debug("NATS already holds this event", "msg_id", m.Header.Get(jetstream.MsgIDHeader))
	}
	return nil
}

// message builds e's NATS message: the --json object, the identity's
// subject and id, and headers for consumers that filter without parsing.
func (s *Sink) message(e events.Event) (*nats.Msg, error) {
	id, err := IdentityOf(e)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := (events.JSON{}).Print(&b, e); err != nil {
		return nil, err
	}
	m := nats.NewMsg(id.Subject(s.opts.Subject))
	m.Data = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	m.Header.Set(jetstream.MsgIDHeader, id.MsgID())
	m.Header.Set(jetstream.ExpectedStreamHeader, s.opts.Stream)
	m.Header.Set(HeaderType, id.Type)
	m.Header.Set(HeaderSeqnum, itoa(id.Seqnum))
	m.Header.Set(HeaderSI, id.SI)
	return m, nil
}

// Headers every message carries besides Nats-Msg-Id (docs/nats.md).
const (
	HeaderType   = "Tahoe-Watch-Type"          // the identity's type, "warning.<kind>" for a warning
	HeaderSeqnum = "Tahoe-Watch-Seqnum"        // decimal
	HeaderSI     = "Tahoe-Watch-Storage-Index" // base32, of the watched cap
)

// sleep waits d or until ctx is done; false if ctx ended it.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

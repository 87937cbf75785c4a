package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Defaults of Options.
const (
	DefaultPoll    = 60 * time.Second
	DefaultRefresh = 5 * time.Minute
	// DefaultRemap is how often every cap is re-mapped on every server
	// whatever the servers acknowledge.
	DefaultRemap   = time.Hour
	DefaultWorkers = 64
	// DefaultMapTimeout bounds one server's answer during a verification.
	DefaultMapTimeout = 5 * time.Second

	// closeWait bounds how long Run waits, on the way out, for watch
	// connections to finish closing.
	closeWait = 500 * time.Millisecond
)

// Options configure a Watcher.
type Options struct {
	Grid    *grid.Grid // the grid; required unless Servers, Mapper and Reader are given
	Servers []*Server  // servers to watch and poll; default NewServers(Grid)
	Mapper  Mapper     // verifies versions; default a GridMapper over Grid
	Reader  Reader     // reads contents; default the GridMapper
	// Dial opens a watch connection to a server; default DialWatch.
	Dial DialFunc
	// NoPush polls every server, never dialing a watch connection.
	NoPush bool
	// Poll is the poll interval for servers that cannot push.
	Poll time.Duration
	// Refresh is how often every server is resubscribed. A refresh
	// re-maps only the caps whose acknowledged shares disagree with
	// their last map, those polled or on a server that is down, and
	// those whose newest version is not yet recoverable.
	Refresh time.Duration
	// Remap is how often a refresh re-maps every cap on every server
	// regardless (to find shares placed on servers that were polled);
	// default DefaultRemap, and never less than Refresh.
	Remap time.Duration
	// MaxRetry bounds the delay between push reconnect attempts;
	// default min(Refresh, 30s).
	MaxRetry time.Duration
	// MapTimeout bounds each server's part of a verification, so that a
	// hung server delays events by at most this much; default 5s.
	MapTimeout time.Duration
	// Recursive watches directories' mutable children too.
	Recursive bool
	// Contents attaches each changed file's new plaintext to its event.
	Contents bool
	// ReadyEvent makes Run emit an events.Ready event, once, before any
	// other: when every cap is verified and every server subscribed to
	// or polled (see Ready), with the counts of servers by mode.
	ReadyEvent bool
	Workers    int // concurrent verifications; default DefaultWorkers
	// Metrics records connections, notices, polls and changes; nil
	// records nothing.
	Metrics *metrics.Client
	Clock   Clock
	Logger  *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Servers == nil && o.Grid != nil {
		o.Servers = NewServers(o.Grid)
	}
	if (o.Mapper == nil || o.Reader == nil) && o.Grid != nil {
		if o.MapTimeout <= 0 {
			o.MapTimeout = DefaultMapTimeout
		}
		gm := &GridMapper{R: retrieve.NewReader(o.Grid, &retrieve.Options{Timeout: o.MapTimeout}, nil), Timeout: o.MapTimeout}
		if o.Mapper == nil {
			o.Mapper = gm
		}
		if o.Reader == nil {
			o.Reader = gm
		}
	}
	if o.Dial == nil {
		o.Dial = DialWatch
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Remap <= 0 {
		o.Remap = DefaultRemap
	}
	o.Remap = max(o.Remap, o.Refresh)
	if o.MaxRetry <= 0 {
		o.MaxRetry = min(o.Refresh, 30*time.Second)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

type siKey [cap.SILen]byte

func keyOf(si []byte) siKey { var k siKey; copy(k[:], si); return k }

// Watcher watches a set of mutable caps. Create it with New, start it
// with Run; Status, Add, Remove, Pause, Resume and Refresh may be called
// at any time.
type Watcher struct {
	acksIn     atomic.Int64 // subscribe acknowledgements received (see waitAcks)
	opts       Options
	log        *slog.Logger
	servers    []*serverState
	byID       map[string]*serverState // servers by ID; fixed after New
	checks     *queue
	out        chan events.Event
	readyEv    chan events.Event // the ready event, once
	ready      chan struct{}
	refreshNow chan struct{}
	init       sync.WaitGroup // the baseline maps of start
	closing    sync.WaitGroup // connections being closed
	down       downSet        // servers verifications skip

	mu      sync.Mutex
	started bool                  // start has begun watching the roots
	roots   map[string]*rootState // by read cap text
	entries map[siKey]*entry
}

// rootState is one cap given to New or Add.
type rootState struct {
	c      *cap.Mutable
	paused bool
}

// New returns a watcher of caps (possibly none: see Add), which must be
// mutable (file or directory). Write caps are reduced to read caps here
// and never kept.
func New(caps []cap.Cap, opts Options) (*Watcher, error) {
	const op = "watcher.New"
	opts = opts.withDefaults()
	if opts.Mapper == nil || opts.Reader == nil {
		return nil, errkind.E(op, errkind.Usage, "no grid")
	}
	w := &Watcher{opts: opts, log: opts.Logger, out: make(chan events.Event, 64), readyEv: make(chan events.Event, 1),
		ready: make(chan struct{}), refreshNow: make(chan struct{}, 1), entries: map[siKey]*entry{},
		roots: map[string]*rootState{}, checks: newQueue()}
	if gm, ok := opts.Mapper.(*GridMapper); ok && gm.Skip == nil {
		gm.Skip = w.down.has
	}
	for _, c := range caps {
		m, err := readMutable(op, c)
		if err != nil {
			return nil, err
		}
		w.roots[m.String()] = &rootState{c: m}
	}
	w.byID = make(map[string]*serverState, len(opts.Servers))
	for _, s := range opts.Servers {
		st := newServerState(s)
		w.servers = append(w.servers, st)
		if w.byID[s.Info.ID] == nil {
			w.byID[s.Info.ID] = st
		}
	}
	return w, nil
}

// readMutable reduces c to a read-only mutable cap, or says why it
// cannot be watched.
func readMutable(op string, c cap.Cap) (*cap.Mutable, error) {
	m, ok := c.ReadOnly().(*cap.Mutable)
	if !ok || m.Access == cap.Verify {
		return nil, errkind.E(op, errkind.Usage, "%s: only mutable files and directories can be watched, with a read or write cap", cap.Abbrev(c))
	}
	return m, nil
}

// Ready is closed once every cap has been mapped and every server has
// been subscribed to (or has fallen back to polling).
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx is done, calling emit for each event from a
// single goroutine, in order: events found while starting wait until the
// watch is ready (Ready), after the Ready event if Options.ReadyEvent asks
// for one. It returns nil when
// ctx is cancelled, after unsubscribing and closing every connection.
func (w *Watcher) Run(ctx context.Context, emit func(events.Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		wctx, stop := context.WithTimeout(context.Background(), closeWait)
		defer stop()
		waitGroup(wctx, &w.closing)
	}()
	for range w.opts.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.worker(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.start(ctx, &wg) }()
	var held []events.Event // until the ready event
	ready := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-w.readyEv:
			if w.opts.ReadyEvent {
				emit(e)
			}
			for _, h := range held {
				emit(h)
			}
			held, ready = nil, true
		case e := <-w.out:
			if ready {
				emit(e)
			} else {
				held = append(held, e)
			}
		}
	}
}

// start starts the server loops, maps every root (and, recursively, its
// children), and runs the refresh loop. Each cap is subscribed as soon as
// its first map is done, so mapping and subscribing overlap. Ready is
// closed when every cap is mapped and every server subscribed to all of
// them (or polling).
func (w *Watcher) start(ctx context.Context, wg *sync.WaitGroup) {
	w.mu.Lock()
	w.started = true
	var roots []*cap.Mutable
	for _, r := range w.roots {
		roots = append(roots, r.c)
	}
	w.mu.Unlock()
	t0 := w.opts.Clock.Now()
	var fresh []*entry // their first map waits for the servers' acks (see ackWait)
	for _, r := range roots {
		if e := w.addEntry(r, r.String(), "", nil); e != nil {
			w.init.Add(1)
			fresh = append(fresh, e)
		}
	}
	w.mu.Lock()
	for _, e := range fresh {
		e.awaitAcks = len(w.servers) > 0
	}
	w.mu.Unlock()
	var first sync.WaitGroup
	for _, s := range w.servers {
		first.Add(1)
		wg.Add(1)
		go func() { defer wg.Done(); w.serverLoop(ctx, s, first.Done) }()
	}
	w.waitAcks(ctx, &first, ackWait)
	for _, e := range fresh {
		w.startInitial(e)
	}
	if !waitGroup(ctx, &w.init) || !waitGroup(ctx, &first) {
		return
	}
	w.log.Debug("every cap mapped", "after", w.opts.Clock.Now().Sub(t0))
	var synced sync.WaitGroup
	for _, s := range w.servers {
		synced.Add(1)
		s.request(request{done: synced.Done})
	}
	if !waitGroup(ctx, &synced) {
		return
	}
	ev := w.readyEvent()
	w.log.Info("watching", "caps", ev.Caps, // ready: every cap verified, every server subscribed or polled
		"push", ev.Modes[string(ModePush)], "poll", ev.Modes[string(ModePoll)], "down", ev.Modes[string(ModeDown)],
		"after", w.opts.Clock.Now().Sub(t0).Round(time.Millisecond))
	close(w.ready)
	w.readyEv <- ev
	w.refreshLoop(ctx)
}

// readyEvent describes the watch once it is ready.
func (w *Watcher) readyEvent() events.Event {
	ev := events.Event{Type: events.Ready, Time: w.opts.Clock.Now(), Size: -1, Modes: map[string]int{}}
	w.mu.Lock()
	ev.Caps = len(w.entries)
	verified := 0
	for _, e := range w.entries {
		if e.known != nil {
			verified++
		}
	}
	w.mu.Unlock()
	for _, s := range w.servers {
		s.mu.Lock()
		ev.Modes[string(s.stat.Mode)]++
		s.mu.Unlock()
	}
	ev.Message = fmt.Sprintf("%d caps watched (%d with a recoverable version); servers: %d push, %d poll, %d down",
		ev.Caps, verified, ev.Modes[string(ModePush)], ev.Modes[string(ModePoll)], ev.Modes[string(ModeDown)])
	return ev
}

// refreshLoop resubscribes every server, every Refresh or when Refresh
// is called, and then re-maps the caps that need it (see
// Options.Refresh); every Remap, all of them.
func (w *Watcher) refreshLoop(ctx context.Context) {
	lastRemap := w.opts.Clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.opts.Clock.After(w.opts.Refresh):
		case <-w.refreshNow:
		}
		w.forgiveAll()
		stale := newEntrySet()
		var done sync.WaitGroup
		for _, s := range w.servers {
			done.Add(1)
			s.request(request{done: done.Done, refresh: true, stale: stale})
		}
		if !waitGroup(ctx, &done) {
			return
		}
		w.down.clear() // a refresh asks every server again
		if now := w.opts.Clock.Now(); now.Sub(lastRemap) >= w.opts.Remap {
			lastRemap = now
			stale.addAll()
		}
		for _, e := range w.refreshEntries(stale) {
			w.hint(e, events.ViaRefresh, "", 0, true)
		}
	}
}

// refreshEntries returns the entries a refresh re-maps: those in stale,
// and those not settled (never mapped, failing, or with a version not
// yet recoverable).
func (w *Watcher) refreshEntries(stale *entrySet) []*entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*entry
	for _, e := range w.entries {
		if stale.has(e) || e.baseline || e.known == nil || e.lastErr != nil || e.lastStuck != nil || e.stuck != 0 {
			out = append(out, e)
		}
	}
	return out
}

// waitGroup waits for wg or ctx; it reports whether wg finished.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { defer close(done); wg.Wait() }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// send delivers an event to Run's loop.
func (w *Watcher) send(ctx context.Context, e events.Event) {
	select {
	case w.out <- e:
	case <-ctx.Done():
	}
}

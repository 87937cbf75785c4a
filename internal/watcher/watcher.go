package watcher

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Defaults of Options.
const (
	DefaultPoll    = 60 * time.Second
	DefaultRefresh = 5 * time.Minute
	DefaultWorkers = 8
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
	// Refresh is how often every server is resubscribed and every cap
	// re-mapped.
	Refresh time.Duration
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
	Workers  int // concurrent verifications; default DefaultWorkers
	Clock    Clock
	Logger   *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Servers == nil && o.Grid != nil {
		o.Servers = NewServers(o.Grid)
	}
	if (o.Mapper == nil || o.Reader == nil) && o.Grid != nil {
		if o.MapTimeout <= 0 {
			o.MapTimeout = DefaultMapTimeout
		}
		gm := &GridMapper{R: retrieve.NewReader(o.Grid, &retrieve.Options{Timeout: o.MapTimeout}, nil)}
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
// with Run; Status may be called at any time.
type Watcher struct {
	opts    Options
	log     *slog.Logger
	roots   []*cap.Mutable
	servers []*serverState
	checks  *queue
	out     chan events.Event
	ready   chan struct{}
	init    sync.WaitGroup // the baseline maps of start
	closing sync.WaitGroup // connections being closed

	mu      sync.Mutex
	entries map[siKey]*entry
}

// New returns a watcher of caps, which must be mutable (file or
// directory). Write caps are reduced to read caps here and never kept.
func New(caps []cap.Cap, opts Options) (*Watcher, error) {
	const op = "watcher.New"
	opts = opts.withDefaults()
	if len(caps) == 0 {
		return nil, errkind.E(op, errkind.Usage, "no cap to watch")
	}
	if opts.Mapper == nil || opts.Reader == nil {
		return nil, errkind.E(op, errkind.Usage, "no grid")
	}
	w := &Watcher{opts: opts, log: opts.Logger, out: make(chan events.Event, 64),
		ready: make(chan struct{}), entries: map[siKey]*entry{}, checks: newQueue()}
	for _, c := range caps {
		m, ok := c.ReadOnly().(*cap.Mutable)
		if !ok || m.Access == cap.Verify {
			return nil, errkind.E(op, errkind.Usage, "%s: only mutable files and directories can be watched, with a read or write cap", cap.Abbrev(c))
		}
		w.roots = append(w.roots, m)
	}
	for _, s := range opts.Servers {
		w.servers = append(w.servers, newServerState(s))
	}
	return w, nil
}

// Ready is closed once every cap has been mapped and every server has
// been subscribed to (or has fallen back to polling).
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx is done, calling emit for each event from a
// single goroutine, in order. It returns nil when ctx is cancelled, after
// unsubscribing and closing every connection.
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
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-w.out:
			emit(e)
		}
	}
}

// start starts the server loops, maps every root (and, recursively, its
// children), and runs the refresh loop. Each cap is subscribed as soon as
// its first map is done, so mapping and subscribing overlap. Ready is
// closed when every cap is mapped and every server subscribed to all of
// them (or polling).
func (w *Watcher) start(ctx context.Context, wg *sync.WaitGroup) {
	var first sync.WaitGroup
	for _, s := range w.servers {
		first.Add(1)
		wg.Add(1)
		go func() { defer wg.Done(); w.serverLoop(ctx, s, first.Done) }()
	}
	for _, r := range w.roots {
		if e := w.addEntry(r, r.String(), "", nil); e != nil {
			w.init.Add(1)
			w.initial(e, &w.init)
		}
	}
	t0 := w.opts.Clock.Now()
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
	w.log.Debug("every server subscribed or polling", "after", w.opts.Clock.Now().Sub(t0))
	close(w.ready)
	w.refreshLoop(ctx)
}

// refreshLoop resubscribes every server and then re-maps every cap,
// every Refresh.
func (w *Watcher) refreshLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.opts.Clock.After(w.opts.Refresh):
		}
		var done sync.WaitGroup
		for _, s := range w.servers {
			done.Add(1)
			s.request(request{done: done.Done, refresh: true})
		}
		if !waitGroup(ctx, &done) {
			return
		}
		for _, e := range w.allEntries() {
			w.hint(e, events.ViaRefresh, "", 0, true)
		}
	}
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

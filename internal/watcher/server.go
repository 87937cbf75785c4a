package watcher

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// Mode is how a server is being watched.
type Mode string

// The modes of a server.
const (
	ModeConnecting Mode = "connecting" // not yet tried
	ModePush       Mode = "push"       // subscribed over a watch connection
	ModePoll       Mode = "poll"       // polled; push is retried with backoff
	ModeDown       Mode = "down"       // neither push nor the last poll worked
)

// Conn is a watch connection; *watchproto.Conn implements it.
type Conn interface {
	Subscribe(ctx context.Context, subs []watchproto.Sub) ([]watchproto.Result, error)
	Unsubscribe(ctx context.Context, sis [][]byte) error
	Notices() <-chan watchproto.Notice
	Done() <-chan struct{}
	Close() error
}

// DialFunc opens a watch connection to a server.
type DialFunc func(ctx context.Context, s *Server) (Conn, error)

// DialWatch dials the server's watch NURL (a sidecar's) if it announces
// one, else the watch endpoint beside its storage NURL, pinning the
// NURL's SPKI hash.
func DialWatch(ctx context.Context, s *Server) (Conn, error) {
	n := s.Info.NURLs[0]
	if len(s.Info.WatchNURLs) > 0 {
		n = s.Info.WatchNURLs[0]
	}
	c, err := watchproto.DialNURL(ctx, n, grid.PinnedTLSConfig(n.SPKIHash, s.Info.Name()), watchproto.DialOptions{})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Timeouts of control messages on a watch connection.
const (
	dialTimeout        = 10 * time.Second
	subscribeTimeout   = 30 * time.Second
	unsubscribeTimeout = 300 * time.Millisecond
	minSession         = time.Second // shorter sessions back off before redialing
	pollConcurrency    = 4
)

// serverState is one server's watch loop state.
type serverState struct {
	srv     *Server
	refresh chan request  // refresh and sync requests
	resync  chan struct{} // the set of watched entries changed
	demote  chan struct{} // the server lied too often: poll it until the next refresh
	lostOne bool          // a connection was lost since the last dial (loop only)

	// pending are entries mapped since the loop last subscribed; full
	// asks for a rescan of every entry (after a pause, resume or
	// removal). Guarded by pmu.
	pmu     sync.Mutex
	pending []*entry
	full    bool

	mu      sync.Mutex
	stat    ServerStatus
	lies    int  // unfounded hints since the last refresh
	demoted bool // polled until the next refresh for them
}

func newServerState(s *Server) *serverState {
	st := &serverState{srv: s, refresh: make(chan request, 4), resync: make(chan struct{}, 1), demote: make(chan struct{}, 1)}
	st.stat = ServerStatus{ID: s.Info.ID, Name: s.Info.Name(), Mode: ModeConnecting}
	return st
}

// request is a refresh or sync request to a server loop.
type request struct {
	// refresh: resubscribe everything (on the live connection, else
	// poll); otherwise just subscribe what is not yet subscribed.
	refresh bool
	// stale collects, on a refresh, the entries whose acknowledged
	// shares disagree with their last map: those the refresh re-maps.
	stale *entrySet
	done  func() // called when done
}

// request hands r to the loop; a loop too busy to take it has every
// entry re-mapped instead.
func (s *serverState) request(r request) {
	select {
	case s.refresh <- r:
	default:
		r.stale.addAll()
		r.done()
	}
}

// entrySet is a set of entries shared by server loops.
type entrySet struct {
	mu  sync.Mutex
	m   map[*entry]bool
	all bool // every entry
}

func newEntrySet() *entrySet { return &entrySet{m: map[*entry]bool{}} }

func (s *entrySet) add(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[e] = true
}

func (s *entrySet) addAll() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = true
}

func (s *entrySet) has(e *entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all || s.m[e]
}

func (s *serverState) update(f func(*ServerStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stat)
}

// contact records a successful exchange that took d.
func (s *serverState) contact(now time.Time, d time.Duration) {
	s.update(func(st *ServerStatus) { st.LastContact, st.Latency = now, d })
}

// subscriptionsChanged tells every server loop to rescan the watched
// entries and resync its subscriptions with them. It costs each loop
// O(entries): it is for pauses, resumes and removals, not for every new
// entry (see entryMapped).
func (w *Watcher) subscriptionsChanged() {
	for _, s := range w.servers {
		s.pmu.Lock()
		s.full = true
		s.pmu.Unlock()
		s.signal()
	}
}

// entryMapped tells every server loop that e's first map is done, so
// that it joins the next batch of subscriptions.
func (w *Watcher) entryMapped(e *entry) {
	for _, s := range w.servers {
		s.pmu.Lock()
		s.pending = append(s.pending, e)
		s.pmu.Unlock()
		s.signal()
	}
}

// signal wakes the loop to resync.
func (s *serverState) signal() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// takePending returns and forgets the entries mapped since the last call,
// and whether a full rescan was asked for.
func (s *serverState) takePending() ([]*entry, bool) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	es, full := s.pending, s.full
	s.pending, s.full = nil, false
	return es, full
}

// pushState is what a server loop knows of a server's watch endpoint.
type pushState int

const (
	pushUnknown pushState = iota // not yet asked, or the last look failed
	pushYes                      // a watch NURL or an advertised endpoint: dial it
	pushNo                       // no endpoint: poll until the next refresh
)

// discover finds whether s can push: a sidecar's watch NURL says so, else
// the watch token in its version document's application-version. A
// failed look is pushUnknown, tried again after the push backoff.
func (w *Watcher) discover(ctx context.Context, s *serverState) pushState {
	switch {
	case w.opts.NoPush:
		return pushNo
	case len(s.srv.Info.WatchNURLs) > 0:
		return pushYes
	case s.srv.Client == nil:
		return pushYes // nothing to ask: let the dial tell
	}
	vctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	v, err := s.srv.Client.Version(vctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Debug("version document unavailable", "server", s.srv.Info.Name(), "err", err)
			s.update(func(st *ServerStatus) { st.LastError = err.Error() })
		}
		return pushUnknown
	}
	w.markUp(s.srv.Info.ID)
	if watchproto.Advertised(v.ApplicationVersion) {
		return pushYes
	}
	w.log.Debug("no watch endpoint advertised; polling until the next refresh", "server", s.srv.Info.Name())
	return pushNo
}

// unsupported reports whether a dial failed because the server has no
// watch endpoint (rather than for a network failure).
func unsupported(err error) bool { return watchproto.Unsupported(err) }

// serverLoop watches one server until ctx is done: push while it can,
// poll while it cannot. A server without a watch endpoint is polled and
// looked at again at each refresh; one whose dial fails is redialed with
// backoff. ready is called once the server is first subscribed or has
// fallen back to polling.
func (w *Watcher) serverLoop(ctx context.Context, s *serverState, ready func()) {
	ready = sync.OnceFunc(ready)
	defer ready()
	b := newBackoff(200*time.Millisecond, w.opts.MaxRetry)
	var lastPoll time.Time
	state := pushUnknown
	for ctx.Err() == nil {
		if state == pushUnknown {
			state = w.discover(ctx, s)
		}
		if state == pushYes {
			p, err := w.connect(ctx, s)
			switch {
			case err == nil:
				ready()
				started := w.opts.Clock.Now()
				if w.session(ctx, s, p) {
					state = pushNo // demoted: poll until the next refresh
					break
				}
				if w.opts.Clock.Now().Sub(started) > minSession {
					b.reset()
					continue // redial at once
				}
			case unsupported(err):
				w.log.Debug("watch endpoint refused; polling until the next refresh", "server", s.srv.Info.Name(), "err", err)
				state = pushNo
			case ctx.Err() == nil:
				w.log.Debug("push unavailable; polling", "server", s.srv.Info.Name(), "err", err)
			}
		}
		var deadline time.Time // none: poll until a refresh
		if state != pushNo {
			deadline = w.opts.Clock.Now().Add(b.next())
		}
		var refreshed bool
		lastPoll, refreshed = w.pollPhase(ctx, s, deadline, lastPoll, ready)
		if refreshed {
			state = pushUnknown
		}
	}
}

// pollPhase polls s every Poll interval until deadline (zero: none), when
// push is tried again, or a refresh request. It returns the time of the
// last poll and whether a refresh ended it. ready is called after the
// first poll (or at once if none is due).
func (w *Watcher) pollPhase(ctx context.Context, s *serverState, deadline, lastPoll time.Time, ready func()) (time.Time, bool) {
	clk := w.opts.Clock
	for {
		now := clk.Now()
		if now.Sub(lastPoll) >= w.opts.Poll {
			w.pollServer(ctx, s, nil)
			lastPoll = now
		}
		ready()
		if !deadline.IsZero() && !now.Before(deadline) {
			return lastPoll, false
		}
		next := lastPoll.Add(w.opts.Poll).Sub(now)
		if !deadline.IsZero() {
			next = min(next, deadline.Sub(now))
		}
		select {
		case <-ctx.Done():
			return lastPoll, false
		case <-clk.After(next):
		case <-s.resync:
			s.takePending() // polling covers every mapped cap already
		case r := <-s.refresh:
			if !r.refresh {
				r.done() // polling covers every mapped cap already
				continue
			}
			w.pollServer(ctx, s, nil)
			s.update(func(st *ServerStatus) { st.Refreshes++ })
			r.done()
			return clk.Now(), true
		}
	}
}

// push is one live watch connection and what it is subscribed to.
type push struct {
	conn Conn
	subs map[siKey]bool   // subscribed indexes
	poll map[siKey]*entry // refused for a transient reason: polled
}

// mode is the mode a live connection stands for: poll as soon as any
// subscription was refused (over-limit, unavailable...) and is polled.
func (p *push) mode() Mode {
	if len(p.poll) > 0 {
		return ModePoll
	}
	return ModePush
}

// connect dials s and subscribes every watched entry with its known
// seqnum; results showing newer shares become hints.
func (w *Watcher) connect(ctx context.Context, s *serverState) (*push, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := w.opts.Dial(dctx, s.srv)
	cancel()
	if err != nil {
		s.update(func(st *ServerStatus) { st.LastError = err.Error() })
		return nil, err
	}
	w.opts.Metrics.ConnOpened(s.lostOne)
	s.lostOne = false
	w.markUp(s.srv.Info.ID)
	p := &push{conn: conn, subs: map[siKey]bool{}, poll: map[siKey]*entry{}}
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	s.takePending() // the snapshot below holds them; later ones queue again
	es := w.watchedEntries()
	for len(es) > 0 { // in messages, so that acknowledged caps start mapping early
		n := min(len(es), watchproto.DefaultMaxSubsPerMessage)
		if err := w.subscribe(sctx, s, p, es[:n], nil); err != nil {
			w.closeConn(conn)
			s.update(func(st *ServerStatus) { st.LastError = err.Error() })
			return nil, err
		}
		es = es[n:]
	}
	s.update(func(st *ServerStatus) {
		st.Mode, st.Subscribes, st.LastError, st.Demoted = p.mode(), st.Subscribes+1, "", false
	})
	return p, nil
}

// subscribe subscribes es on p. Without stale, acknowledged shares newer
// than the known version become hints; with stale (a refresh), every
// entry whose acknowledgement disagrees with its last map joins stale.
func (w *Watcher) subscribe(ctx context.Context, s *serverState, p *push, es []*entry, stale *entrySet) error {
	if len(es) == 0 {
		return nil
	}
	subs := make([]watchproto.Sub, len(es))
	w.mu.Lock()
	for i, e := range es {
		subs[i] = watchproto.Sub{SI: e.cap.SI, Fingerprint: e.cap.Fingerprint}
		if e.known != nil {
			subs[i].Seqnum = e.known.Seqnum
		}
	}
	w.mu.Unlock()
	start := w.opts.Clock.Now()
	res, err := p.conn.Subscribe(ctx, subs)
	if err != nil {
		return err
	}
	w.acksIn.Add(int64(len(res)))
	now := w.opts.Clock.Now()
	s.contact(now, now.Sub(start))
	quiet := make([]bool, len(es)) // awaiting a first map that starts after this ack
	var acked []*entry
	w.mu.Lock()
	for i, r := range res {
		if e := es[i]; e.baseline {
			// Its map reads what this ack claims: no hint, but the claim
			// is judged against that map like a hint's.
			quiet[i] = !e.queued && !e.running
			if quiet[i] && r.Refused == "" && !w.distrustedLocked(e, s.srv.Info.ID) {
				w.claimLocked(e, s.srv.Info.ID, maxSeq(r.Shares))
			}
			if e.ackLocked(s.srv.Info.ID, r) && e.awaitAcks && len(e.acks) == len(w.servers) {
				acked = append(acked, e)
			}
		}
		agrees := w.agreesLocked(es[i], s.srv.Info.ID, r)
		if agrees && es[i].known != nil && len(r.Shares) > 0 {
			es[i].sawOnLocked(s.srv.Info.ID, es[i].known.Seqnum) // a later older share is a rollback
		}
		if !agrees && stale != nil {
			stale.add(es[i])
		}
	}
	w.mu.Unlock()
	for _, e := range acked {
		w.startInitial(e)
	}
	refused := map[watchproto.Reason]int{}
	for i, r := range res {
		e := es[i]
		switch r.Refused {
		case "":
			p.subs[e.key] = true
			delete(p.poll, e.key)
			if stale == nil && !quiet[i] {
				w.hint(e, events.ViaPush, s.srv.Info.ID, maxSeq(r.Shares), false)
			}
		case watchproto.NoShare:
			p.subs[e.key] = true // a share placed later shows in a refresh's ack
			delete(p.poll, e.key)
		default:
			refused[r.Refused]++
			delete(p.subs, e.key)
			p.poll[e.key] = e
		}
	}
	for why, n := range refused {
		w.log.Warn("server refused subscriptions; polling them", "server", s.srv.Info.Name(), "reason", string(why), "refused", n)
	}
	s.update(func(st *ServerStatus) {
		st.Subscribed, st.Polled = len(p.subs), len(p.poll)
		if st.Mode == ModePush || st.Mode == ModePoll {
			st.Mode = p.mode()
		}
	})
	return nil
}

// agreesLocked reports whether a server's acknowledgement of e matches
// what e's last map found there: the same share numbers, each at the
// verified version. Then a refresh need not read e from any server
// (unless another server disagrees). w.mu must be held.
func (w *Watcher) agreesLocked(e *entry, id string, r watchproto.Result) bool {
	held, _ := e.holders.get(id)
	switch {
	case r.Refused == watchproto.NoShare:
		return len(held) == 0
	case r.Refused != "" || e.known == nil || len(r.Shares) != len(held):
		return false
	}
	for _, sh := range r.Shares {
		if sh.Seqnum != e.known.Seqnum || !bytes.Equal(sh.Root, e.known.RootHash[:]) || !slices.Contains(held, sh.Shnum) {
			return false
		}
	}
	return true
}

func maxSeq(ss []watchproto.ShareState) uint64 {
	var m uint64
	for _, s := range ss {
		m = max(m, s.Seqnum)
	}
	return m
}

// session serves one watch connection until it ends or ctx is done. It
// reports whether it ended because the server was demoted to polling.
func (w *Watcher) session(ctx context.Context, s *serverState, p *push) bool {
	defer func() { w.closeConn(p.conn) }()
	clk := w.opts.Clock
	nextPoll := clk.Now().Add(w.opts.Poll)
	for {
		var pollC <-chan time.Time
		if len(p.poll) > 0 {
			pollC = clk.After(nextPoll.Sub(clk.Now()))
		}
		select {
		case <-ctx.Done():
			w.unsubscribeAll(p)
			return false
		case <-s.demote:
			w.unsubscribeAll(p)
			s.update(func(st *ServerStatus) { st.Mode, st.Demoted = ModePoll, true })
			return true
		case n, ok := <-p.conn.Notices():
			if !ok {
				w.lost(s)
				return false
			}
			w.notice(s, n)
		case <-p.conn.Done():
			w.lost(s)
			return false
		case r := <-s.refresh:
			ok := true
			if r.refresh {
				ok = w.resubscribe(ctx, s, p, r.stale)
			} else {
				w.resyncSubs(ctx, s, p)
			}
			r.done()
			if !ok {
				w.lost(s)
				return false
			}
		case <-s.resync:
			w.resyncSubs(ctx, s, p)
		case <-pollC:
			w.pollServer(ctx, s, p.poll)
			nextPoll = clk.Now().Add(w.opts.Poll)
		}
	}
}

// lost records that a push connection ended.
func (w *Watcher) lost(s *serverState) {
	w.log.Info("watch connection lost; reconnecting", "server", s.srv.Info.Name())
	s.lostOne = true
	s.update(func(st *ServerStatus) { st.Mode, st.Reconnects = ModeDown, st.Reconnects+1 })
}

// notice turns a server's notice into a hint.
func (w *Watcher) notice(s *serverState, n watchproto.Notice) {
	now := w.opts.Clock.Now()
	s.update(func(st *ServerStatus) { st.LastContact, st.LastNotice, st.Notices = now, now, st.Notices+1 })
	w.opts.Metrics.NoticeReceived()
	if n.Deleted {
		return
	}
	w.mu.Lock()
	e := w.entries[keyOf(n.SI)]
	w.mu.Unlock()
	if e != nil {
		w.hint(e, events.ViaPush, s.srv.Info.ID, n.Seqnum, false)
	}
}

// resubscribe subscribes every mapped entry again on the live
// connection (the server replaces each subscription) and adds to stale
// the entries whose acknowledgement disagrees with their last map. It
// reports false, with every entry stale, if the connection failed: the
// loop then redials.
func (w *Watcher) resubscribe(ctx context.Context, s *serverState, p *push, stale *entrySet) bool {
	s.takePending() // the snapshot below holds them
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	if err := w.subscribe(sctx, s, p, w.mappedEntries(), stale); err != nil {
		w.log.Warn("resubscribe failed; reconnecting", "server", s.srv.Info.Name(), "err", err)
		stale.addAll()
		return false
	}
	s.update(func(st *ServerStatus) { st.Refreshes++ })
	return true
}

// resyncSubs subscribes the entries mapped since the last resync, in
// batches, and after a full rescan request also unsubscribes dropped or
// paused ones.
func (w *Watcher) resyncSubs(ctx context.Context, s *serverState, p *push) {
	pend, full := s.takePending()
	var add []*entry
	w.mu.Lock()
	if full {
		pend = pend[:0]
		for _, e := range w.entries {
			pend = append(pend, e)
		}
	}
	for _, e := range pend {
		if !e.removed && !e.baseline && !p.subs[e.key] && p.poll[e.key] == nil && !w.pausedLocked(e) {
			add = append(add, e)
		}
	}
	var drop [][]byte
	if !full {
		w.mu.Unlock()
		w.subscribeBatch(ctx, s, p, add)
		return
	}
	for k := range p.subs {
		if e := w.entries[k]; e == nil || w.pausedLocked(e) {
			drop = append(drop, append([]byte(nil), k[:]...))
			delete(p.subs, k)
		}
	}
	for k := range p.poll {
		if e := w.entries[k]; e == nil || w.pausedLocked(e) {
			delete(p.poll, k)
		}
	}
	w.mu.Unlock()
	w.subscribeBatch(ctx, s, p, add)
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	if len(drop) > 0 {
		if err := p.conn.Unsubscribe(sctx, drop); err != nil {
			w.log.Debug("unsubscribe failed", "server", s.srv.Info.Name(), "err", err)
		}
	}
}

// subscribeBatch subscribes es on p (in messages of up to the protocol's
// limit), logging a failure.
func (w *Watcher) subscribeBatch(ctx context.Context, s *serverState, p *push, es []*entry) {
	if len(es) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	if err := w.subscribe(sctx, s, p, es, nil); err != nil {
		w.log.Warn("subscribe failed", "server", s.srv.Info.Name(), "err", err)
	}
}

// unsubscribeAll releases p's subscriptions on the way out, briefly.
func (w *Watcher) unsubscribeAll(p *push) {
	if len(p.subs) == 0 {
		return
	}
	sis := make([][]byte, 0, len(p.subs))
	for k := range p.subs {
		sis = append(sis, append([]byte(nil), k[:]...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), unsubscribeTimeout)
	defer cancel()
	p.conn.Unsubscribe(ctx, sis) // best effort: closing releases them anyway
}

// pollServer reads the header of every share s holds of the given
// entries (nil: of every entry) and hints those showing a newer seqnum.
func (w *Watcher) pollServer(ctx context.Context, s *serverState, only map[siKey]*entry) {
	type job struct {
		e  *entry
		sh []uint64
	}
	var jobs []job
	w.mu.Lock()
	for k, e := range w.entries {
		if only != nil && only[k] == nil || w.pausedLocked(e) {
			continue
		}
		if sh, _ := e.holders.get(s.srv.Info.ID); len(sh) > 0 {
			jobs = append(jobs, job{e, sh})
		}
	}
	w.mu.Unlock()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, fail int
		sem      = make(chan struct{}, pollConcurrency)
	)
	start := w.opts.Clock.Now()
	for _, j := range jobs {
		for _, n := range j.sh {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				seq, err := peekHeader(ctx, s.srv.Client, j.e.cap.SI, n)
				mu.Lock()
				if err != nil {
					fail++
				} else {
					ok++
				}
				mu.Unlock()
				if err == nil {
					w.hint(j.e, events.ViaPoll, s.srv.Info.ID, seq, false)
				}
			}()
		}
	}
	wg.Wait()
	now := w.opts.Clock.Now()
	w.opts.Metrics.Polled("fallback")
	switch {
	case ok > 0:
		w.markUp(s.srv.Info.ID)
	case fail > 0:
		w.down.mark(s.srv.Info.ID, true)
	}
	s.update(func(st *ServerStatus) {
		st.Polls++
		if only != nil {
			return // push is still the mode
		}
		switch {
		case ok > 0:
			st.Mode, st.LastContact, st.Latency = ModePoll, now, now.Sub(start)
		case fail > 0 || w.down.has(s.srv.Info.ID):
			st.Mode = ModeDown
		default:
			// Nothing to poll there: no contact was made, so none is
			// claimed (no LastContact, no round-trip time).
			st.Mode = ModePoll
		}
	})
}

// closeConn closes a connection in the background: a WebSocket close
// handshake with a slow or vanished server can take seconds, and neither
// a refresh nor shutdown should wait for it. Run waits for these closes
// for at most closeWait.
func (w *Watcher) closeConn(c Conn) {
	w.closing.Add(1)
	go func() {
		defer w.closing.Done()
		defer w.opts.Metrics.ConnClosed()
		c.Close()
	}()
}

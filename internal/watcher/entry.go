package watcher

import (
	"context"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// entry is one watched mutable. Fields below mu are guarded by
// Watcher.mu.
type entry struct {
	key  siKey
	cap  *cap.Mutable // read-only
	str  string       // the read cap's text
	root string       // the watched cap it was found through
	path string       // its path below root

	// guarded by Watcher.mu
	refs     int                // directory entries (or roots) naming it
	known    *Version           // last version reported (or the baseline)
	baseline bool               // the first map sets known without an event
	announce bool               // its baseline entries are reported as added
	holders  byServer[[]uint64] // by server: the share numbers the last map found
	children map[string]string  // a recursive directory's entries: name -> cap text
	removed  bool
	lastErr  error
	checked  time.Time
	checks   int
	warned   string // the last warning given
	// refreshed is set by a refresh's hint; lastStuck is the version
	// below k that the last refresh's map found.
	refreshed bool
	lastStuck *Version
	// what the last map found, and the last change reported
	uncoordinated bool
	stuck         uint64 // seqnum of a version stuck below k, warned about
	lastChange    time.Time
	lastVia       events.Via
	group         *sync.WaitGroup // the baseline group it belongs to, if any

	// claims are the highest seqnums servers hinted at since the last
	// map; distrust the servers whose hints about it are being ignored.
	claims   map[string]claim
	seenOn   byServer[uint64]    // by server: the highest verified seqnum seen there
	badSeen  map[badShare]string // bad-share warnings given: the last reason of each
	distrust map[string]*distrust

	// acks are, by server, the shares each server's watch acknowledgement
	// claimed while e awaited its first map: that map uses them as the
	// servers' listings (see GridMapper.MapClaimed). awaitAcks is set
	// while start holds the first map back for them.
	acks      map[string][]mapupdate.Claim
	awaitAcks bool

	queued, running, again bool
	hintVia                events.Via
	hintServer             string
	hintAt                 time.Time
	initDone               func()
}

// addEntry starts watching c (read-only) at path below root, or adds a
// reference to an entry already watched. It returns the new entry, or
// nil if c was already watched.
func (w *Watcher) addEntry(c *cap.Mutable, root, path string, initDone func()) *entry {
	k := keyOf(c.SI)
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.entries[k]; e != nil {
		e.refs++
		return nil
	}
	str := c.String()
	if root == str {
		root = str // one string, not two copies, for a cap watched as itself
	}
	e := &entry{key: k, cap: c, str: str, root: root, path: path, refs: 1,
		baseline: true, initDone: initDone}
	w.entries[k] = e
	return e
}

// dropEntry removes one reference to the entry watching k, and the entry
// (with its children) when none is left.
func (w *Watcher) dropEntry(k siKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropLocked(k)
}

func (w *Watcher) dropLocked(k siKey) {
	e := w.entries[k]
	if e == nil {
		return
	}
	if e.refs--; e.refs > 0 {
		return
	}
	e.removed = true
	delete(w.entries, k)
	for _, child := range e.children {
		if m := mutableCap(child); m != nil {
			w.dropLocked(keyOf(m.SI))
		}
	}
}

// allEntries returns every watched entry.
func (w *Watcher) allEntries() []*entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*entry, 0, len(w.entries))
	for _, e := range w.entries {
		out = append(out, e)
	}
	return out
}

// mappedEntries returns the entries whose first map is done: those that
// can be subscribed with a known seqnum.
func (w *Watcher) mappedEntries() []*entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*entry, 0, len(w.entries))
	for _, e := range w.entries {
		if !e.baseline && !w.pausedLocked(e) {
			out = append(out, e)
		}
	}
	return out
}

// watchedEntries returns the entries a new connection subscribes: all
// but the paused ones (those awaiting their first map too, so that the
// acknowledgement can stand in for its listing).
func (w *Watcher) watchedEntries() []*entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*entry, 0, len(w.entries))
	for _, e := range w.entries {
		if !w.pausedLocked(e) {
			out = append(out, e)
		}
	}
	return out
}

// initial queues the baseline map of a new entry; wg is done when it
// (and, recursively, its children) are mapped.
func (w *Watcher) initial(e *entry, wg *sync.WaitGroup) {
	w.mu.Lock()
	e.initDone, e.group = onceDone(wg), wg
	w.mu.Unlock()
	w.hint(e, events.ViaRefresh, "", 0, true)
}

// hint asks for e to be verified because server (via push or poll)
// claims seqnum seq. Hints at or below the known seqnum are dropped
// unless force is set; hints for an entry already being verified are
// coalesced into one more verification.
func (w *Watcher) hint(e *entry, via events.Via, server string, seq uint64, force bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.removed || w.pausedLocked(e) || !force && e.known != nil && seq <= e.known.Seqnum {
		return
	}
	if !force && e.awaitAcks {
		return // its first map, held back for the acks, sees at least what was hinted
	}
	if !force && server != "" {
		if w.distrustedLocked(e, server) {
			return // bounded work: this server's hints about e did not verify
		}
		w.claimLocked(e, server, seq)
	}
	if e.hintAt.IsZero() {
		e.hintAt, e.hintVia, e.hintServer = w.opts.Clock.Now(), via, server
	}
	if via == events.ViaRefresh {
		e.refreshed = true
	}
	switch {
	case e.running:
		e.again = true
	case !e.queued:
		e.queued = true
		w.checks.push(e)
	}
}

// worker verifies queued entries until ctx is done.
func (w *Watcher) worker(ctx context.Context) {
	for {
		e := w.checks.pop(ctx)
		if e == nil {
			return
		}
		w.mu.Lock()
		e.queued, e.running = false, true
		w.mu.Unlock()
		w.check(ctx, e)
		w.mu.Lock()
		e.running = false
		if e.again && !e.removed {
			e.again, e.queued = false, true
			w.checks.push(e)
		}
		w.mu.Unlock()
	}
}

// queue is an unbounded FIFO of entries to verify.
type queue struct {
	mu     sync.Mutex
	items  []*entry
	signal chan struct{}
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) push(e *entry) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop returns the next entry, waiting for one; nil when ctx is done.
func (q *queue) pop(ctx context.Context) *entry {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			e := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			more := len(q.items) > 0
			q.mu.Unlock()
			if more {
				select {
				case q.signal <- struct{}{}:
				default:
				}
			}
			return e
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return nil
		}
	}
}

// mutableCap parses s and returns it as a read-only mutable cap, or nil.
func mutableCap(s string) *cap.Mutable {
	c, err := cap.Parse(s)
	if err != nil {
		return nil
	}
	m, ok := c.ReadOnly().(*cap.Mutable)
	if !ok || m.Access == cap.Verify {
		return nil
	}
	return m
}

// onceDone returns a function calling wg.Done once.
func onceDone(wg *sync.WaitGroup) func() { return sync.OnceFunc(wg.Done) }

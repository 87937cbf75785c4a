package watcher

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

// outcome is what one verification of an entry found.
type outcome struct {
	m        *Map
	prev     *Version
	baseline bool
	announce bool       // a baseline of a directory that appeared while watching
	stuck    bool       // the same version stayed below k across a refresh
	liars    []string   // servers whose hints this map did not bear out
	bad      []BadShare // shares that failed verification, rollbacks included
	changed  bool
	via      events.Via
	server   string
	hintAt   time.Time
	initDone func()
}

// check re-maps e and reports a change if a newer version is recoverable.
func (w *Watcher) check(ctx context.Context, e *entry) {
	started := w.opts.Clock.Now()
	m, err := w.mapEntry(ctx, e)
	if ctx.Err() != nil {
		return
	}
	o, ok := w.record(e, m, err, started)
	if !ok {
		if o.initDone != nil {
			o.initDone() // start must not wait for an unreachable grid
		}
		return
	}
	switch {
	case o.baseline:
		if e.cap.Dir && w.opts.Recursive {
			w.emitAll(ctx, w.dirEvents(ctx, e, o), o)
		}
		w.entryMapped(e)
		if o.initDone != nil {
			o.initDone()
		}
	case o.changed && e.cap.Dir && w.opts.Recursive:
		w.emitAll(ctx, w.dirEvents(ctx, e, o), o)
	case o.changed:
		ev := w.event(e, events.Changed, o)
		if w.opts.Contents && !e.cap.Dir {
			ev.Contents = w.contents(ctx, e, o.m)
		}
		w.emitAll(ctx, []events.Event{ev}, o)
	}
	if !o.baseline {
		w.warnings(ctx, e, o)
	}
	w.falseHints(ctx, e, o.liars)
	w.badShares(ctx, e, o.bad)
}

// record stores what a map found in e and decides whether it is a change.
func (w *Watcher) record(e *entry, m *Map, err error, started time.Time) (outcome, bool) {
	if err == nil {
		for _, id := range m.Down {
			w.down.mark(id, true)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.removed {
		return outcome{}, false
	}
	if w.pausedLocked(e) { // Resume verifies it again
		o := outcome{initDone: e.initDone}
		e.initDone = nil
		return o, false
	}
	e.checked = w.opts.Clock.Now()
	e.checks++
	if e.lastErr = err; err != nil {
		w.log.Warn("could not map", "cap", e.label(), "err", err)
		return outcome{initDone: e.initDone}, false
	}
	for _, id := range m.Skipped { // not asked: keep what is known
		if h, ok := e.holders.get(id); ok {
			m.Holders[id] = h
		}
	}
	e.holders = holdersOf(m.Holders)
	e.uncoordinated = m.Uncoordinated
	if m.Stuck == nil {
		e.stuck = 0
	}
	o := outcome{m: m, prev: e.known, baseline: e.baseline, announce: e.announce, via: e.hintVia,
		server: e.hintServer, hintAt: e.hintAt, liars: w.judgeLocked(e, m, started), bad: w.badLocked(e, m)}
	if e.refreshed {
		e.refreshed = false
		o.stuck = m.Stuck != nil && e.lastStuck != nil && *m.Stuck == *e.lastStuck
		e.lastStuck = m.Stuck
		if o.stuck {
			e.stuck = m.Stuck.Seqnum
		}
	}
	switch {
	case e.baseline:
		e.known, e.baseline, e.acks = m.Best, false, nil
		o.initDone, e.initDone = e.initDone, nil
		e.hintAt = time.Time{}
	case m.Best != nil && (e.known == nil || m.Best.Seqnum > e.known.Seqnum):
		e.known = m.Best
		o.changed = true
		e.hintAt = time.Time{}
		e.lastChange, e.lastVia = w.opts.Clock.Now(), o.via
		if e.lastVia == "" {
			e.lastVia = events.ViaRefresh
		}
	case m.Stuck == nil:
		// Nothing newer anywhere: the hint was stale or false.
		e.hintAt = time.Time{}
	}
	return o, true
}

// warnings reports uncoordinated writes and versions stuck below k. Every
// publish passes through a state below k, so a version is only reported
// as stuck when two refreshes in a row found it so.
// Each warning is given once per seqnum.
func (w *Watcher) warnings(ctx context.Context, e *entry, o outcome) {
	var ev events.Event
	switch {
	case o.m.Uncoordinated:
		ev = w.event(e, events.Warning, o)
		ev.Warning = events.WarnUncoordinated
		ev.Message = "uncoordinated write: two versions share the newest seqnum"
	case o.stuck:
		ev = w.event(e, events.Warning, o)
		ev.Warning = events.WarnUnrecoverableNewer
		ev.Seqnum = o.m.Stuck.Seqnum
		ev.Message = "a newer version has fewer than k shares and cannot be read"
	default:
		return
	}
	key := fmt.Sprintf("%s %d", ev.Message, ev.Seqnum)
	if e.warned == key { // e's checks are serialized: no lock needed
		return
	}
	e.warned = key
	w.log.Warn(ev.Message, "cap", e.label(), "seqnum", ev.Seqnum)
	w.send(ctx, ev)
}

// event builds an event about e from a verification's outcome.
func (w *Watcher) event(e *entry, t events.Type, o outcome) events.Event {
	now := w.opts.Clock.Now()
	ev := events.Event{Type: t, Time: now, Cap: e.str, Path: e.path, Root: e.root,
		Via: o.via, Server: o.server, Size: -1}
	if ev.Via == "" {
		ev.Via = events.ViaRefresh
	}
	if !o.hintAt.IsZero() {
		ev.LatencyMS = float64(now.Sub(o.hintAt)) / float64(time.Millisecond)
	}
	if v := o.m.Best; v != nil {
		ev.Seqnum, ev.RootHash, ev.Size = v.Seqnum, base32.Encode(v.RootHash[:]), v.Size
	}
	if o.prev != nil {
		ev.PreviousSeqnum = o.prev.Seqnum
	}
	return ev
}

// emitAll sends the events of one verification, counting the changes.
func (w *Watcher) emitAll(ctx context.Context, evs []events.Event, o outcome) {
	var noticeAt time.Time // latency is observed for pushed changes only
	if o.via == events.ViaPush {
		noticeAt = o.hintAt
	}
	for _, ev := range evs {
		if ev.Type.IsChange() {
			w.opts.Metrics.Changed(noticeAt)
		}
		w.send(ctx, ev)
	}
}

// contents reads the new plaintext of e; nil if it cannot be read.
func (w *Watcher) contents(ctx context.Context, e *entry, m *Map) []byte {
	b, err := w.opts.Reader.Read(ctx, e.cap, m)
	if err != nil {
		w.log.Warn("could not read new contents", "cap", e.label(), "err", err)
		return nil
	}
	return b
}

// dirEvents reads a recursive directory's new contents, follows its
// entries (watching new mutable children, dropping removed ones) and
// returns added/removed/modified events, or one changed event when no
// entry differs. The baseline read at start only records the entries;
// that of a directory which appeared later reports them all as added, so
// that nothing linked into it early is missed.
func (w *Watcher) dirEvents(ctx context.Context, e *entry, o outcome) []events.Event {
	b, err := w.opts.Reader.Read(ctx, e.cap, o.m)
	var kids map[string]string
	var unsafe []string
	if err == nil {
		kids, unsafe, err = parseDir(b)
	}
	for _, why := range unsafe {
		w.log.Warn("skipping a directory entry", "dir", e.label(), "entry", why)
	}
	if err != nil {
		w.log.Warn("could not read directory", "cap", e.label(), "err", err)
		if o.baseline {
			return nil
		}
		return []events.Event{w.event(e, events.Changed, o)}
	}
	w.mu.Lock()
	old := e.children
	e.children = kids
	w.mu.Unlock()
	var evs []events.Event
	for _, name := range unionNames(old, kids) {
		was, had := old[name]
		now, has := kids[name]
		var t events.Type
		switch {
		case had && has && was == now:
			continue
		case !had:
			t = events.Added
		case !has:
			t = events.Removed
		default:
			t = events.Modified
		}
		if had {
			w.unwatchChild(was)
		}
		if has {
			w.watchChild(ctx, e, name, now, o.baseline && !o.announce)
		}
		ev := w.event(e, t, o)
		ev.Path, ev.Cap = path.Join(e.path, name), now
		if t == events.Removed {
			ev.Cap = was
		}
		if t == events.Modified {
			ev.PreviousCap = was
		}
		evs = append(evs, ev)
	}
	switch {
	case o.baseline && !o.announce:
		return nil
	case len(evs) == 0 && !o.baseline:
		evs = append(evs, w.event(e, events.Changed, o))
	}
	return evs
}

// parseDir decodes directory contents into name -> read-only cap text.
// Entries that cannot be used and those whose names are not safe path
// components are left out and described in unsafe, so that no event's
// Path can point outside the directory it was found in.
func parseDir(b []byte) (kids map[string]string, unsafe []string, err error) {
	dir, err := dirnode.ParseDir(b, nil)
	if err != nil {
		return nil, nil, err
	}
	unsafe = dirnode.Describe(dir.Unusable, 10)
	kids = make(map[string]string, len(dir.Entries))
	for _, d := range dir.Entries {
		if !safeName(d.Name) {
			unsafe = append(unsafe, "name "+strconv.Quote(d.Name)+" is not a safe path component")
			continue
		}
		kids[d.Name] = d.ROCap
	}
	return kids, unsafe, nil
}

// safeName reports whether name can stand as one path component: not
// empty, ".", or "..", and free of '/', '\\' and control characters.
func safeName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func unionNames(a, b map[string]string) []string {
	var names []string
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// watchChild starts watching a directory entry's mutable child; startup
// says whether it is part of the initial maps that Ready waits for.
func (w *Watcher) watchChild(ctx context.Context, parent *entry, name, c string, startup bool) {
	m := mutableCap(c)
	if m == nil || !safeName(name) {
		return
	}
	child := w.addEntry(m, parent.root, path.Join(parent.path, name), nil)
	if child == nil {
		return
	}
	w.mu.Lock()
	if startup && parent.group != nil {
		parent.group.Add(1)
		child.group, child.initDone = parent.group, onceDone(parent.group)
	} else if !startup {
		child.announce = true
	}
	w.mu.Unlock()
	w.hint(child, events.ViaRefresh, "", 0, true) // its baseline subscribes it
}

// unwatchChild drops a directory entry's mutable child.
func (w *Watcher) unwatchChild(c string) {
	if m := mutableCap(c); m != nil {
		w.dropEntry(keyOf(m.SI))
		w.subscriptionsChanged()
	}
}

// label names e in logs: its path, or its abbreviated cap.
func (e *entry) label() string {
	if e.path != "" {
		return e.path
	}
	return events.ShortCap(e.str)
}

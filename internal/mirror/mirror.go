// Package mirror keeps a local directory a live, one-way copy of a
// Tahoe-LAFS directory tree without ever losing a local change.
//
// A Mirror first reconciles the whole tree: it walks the remote
// directories, downloads (in parallel, bounded) every file whose recorded
// version differs, and removes local files whose entries are gone. Then,
// in Run, it applies every change an internal/watcher reports. Each
// change is only a hint: its path is resolved again from the root, name
// by name, and the subtree there reconciled with what the grid holds now,
// so a hostile or stale event can do no more than a fresh look would.
//
// What was written is journalled in LOCALDIR/.tahoe-watch/state.jsonl
// (read caps, seqnums, root hashes, sizes, SHA-256 of the bytes, mtimes;
// mode 0600), which lets a restart skip files already complete. Every
// write goes to a temporary file in the target's directory, is synced and
// renamed into place. Before a file is replaced or deleted it is compared
// with the journal: by size and mtime if, while Run runs, an fsnotify
// watch of LOCALDIR saw nobody touch it since it was written, else by
// its contents. A file the user changed is never touched: the remote version is written beside it as
// NAME.conflict-TIME-SEQNUM (or, on a remote delete, the local file is
// kept) and a Conflict event is reported.
//
// Names that could leave LOCALDIR or that the local system cannot hold
// are skipped with a warning; all access goes through an os.Root and
// symlinks inside LOCALDIR are never followed.
//
// With Options.Push the mirror is two-way (push.go): paths the local
// watch reports are uploaded once quiet and linked into their directory
// by a read-modify-write that re-applies only this device's change, and
// only over the version the journal says was last synced; a change that
// loses that race, or meets a remote change of the same file, keeps both
// versions (the local one as NAME.conflict-DEVICE-TIME, uploaded too).
// With Push.Upload it is a one-way backup of LOCALDIR instead.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// Event types a mirror reports beside those of internal/events.
const (
	// Conflict: a local change was kept and the remote version written
	// beside it (Message names the file), or a file removed remotely was
	// kept because it was edited locally.
	Conflict events.Type = "conflict"
	// Progress: see ProgressEvent.
	Progress events.Type = "progress"
)

// DefaultParallel is how many files are downloaded at once by default.
const DefaultParallel = 4

// Options configure a Mirror.
type Options struct {
	Grid   *grid.Grid       // required
	Reader *retrieve.Reader // default retrieve.NewReader(Grid)
	// Parallel bounds concurrent downloads; default DefaultParallel.
	Parallel int
	// Keep leaves local files whose entries were removed remotely.
	Keep bool
	// Watch configures the watcher Run uses (NoPush, Poll, Refresh...);
	// Grid, Recursive and Logger are set by the mirror.
	Watch watcher.Options
	// Progress, if set, is called about every ProgressEvery during a
	// full reconcile and once at its end.
	Progress      func(ProgressEvent)
	ProgressEvery time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
	// Push, if set, makes the mirror two-way: local edits are uploaded
	// (see Push). The root given to Open must then be a write cap.
	Push *Push
}

// Mirror mirrors one directory cap into one local directory.
type Mirror struct {
	root    cap.Cap // read-only
	rootStr string
	opts    Options
	r       *retrieve.Reader
	ownR    bool
	loc     *local
	st      *state
	log     *slog.Logger
	// lw follows local edits while Run runs (nil otherwise, or if it
	// could not start); localHook is for tests (see localWatch.hook).
	lw        atomic.Pointer[localWatch]
	localHook func(rel string) bool
	// push uploads local edits in two-way sync (nil for a mirror).
	push *pusher

	closeOnce sync.Once
	closeErr  error
}

// Open prepares dir (creating it) as the mirror of root, a directory cap
// (reduced to its read cap here): it loads the journal and deletes the
// temporary files an interrupted run left behind.
func Open(root cap.Cap, dir string, o Options) (*Mirror, error) {
	const op = "mirror.Open"
	if root == nil || !root.IsDir() {
		return nil, errkind.E(op, errkind.Usage, "not a directory cap")
	}
	if o.Grid == nil && o.Reader == nil {
		return nil, errkind.E(op, errkind.Usage, "no grid")
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 200 * time.Millisecond
	}
	m := &Mirror{root: root.ReadOnly(), opts: o, r: o.Reader, log: o.Logger}
	m.rootStr = m.root.String()
	if m.r == nil {
		m.r, m.ownR = retrieve.NewReader(o.Grid, nil, nil), true
	}
	var err error
	if m.loc, err = openLocal(dir); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	// The lock comes first: the temporary files may be another mirror's.
	if m.st, err = openState(filepath.Join(dir, StateDir)); err != nil {
		m.loc.close()
		return nil, errkind.E(op, errkind.Other, err)
	}
	if err = m.loc.cleanTemps(); err != nil {
		m.Close()
		return nil, errkind.E(op, errkind.Other, err)
	}
	if o.Push != nil {
		w, ok := root.(*cap.Mutable)
		if !ok || w.Access != cap.Write {
			m.Close()
			return nil, errkind.E(op, errkind.Usage, "two-way sync needs a directory write cap")
		}
		if m.push, err = newPusher(m, w, *o.Push); err != nil {
			m.Close()
			return nil, errkind.E(op, errkind.KindOf(err), err)
		}
	}
	return m, nil
}

// Close flushes the journal and releases the directory and its lock.
func (m *Mirror) Close() error {
	m.closeOnce.Do(func() {
		m.closeErr = errors.Join(m.st.close(), m.loc.close())
		if m.ownR {
			m.r.Close()
		}
	})
	return m.closeErr
}

// Records returns the journal's records, for tests and status views.
func (m *Mirror) Records() []Record {
	var out []Record
	for _, p := range m.st.under("") {
		out = append(out, *m.st.get(p))
	}
	return out
}

// Sync reconciles the whole tree once. Only conflicts, warnings and
// progress are reported through emit (which may be nil). It may run
// while Run does, as an extra refresh.
func (m *Mirror) Sync(ctx context.Context, emit func(events.Event)) error {
	s := m.session(emit, true, events.ViaRefresh)
	stop := s.prog.start(m.opts.Progress, m.opts.ProgressEvery)
	err := s.reconcile(ctx, "", m.root)
	stop()
	return err
}

// Run mirrors the tree and then applies every change the watcher
// reports, until ctx is done. The watcher is subscribed before the first
// reconcile, so no change in between is missed; every Watch.Refresh (or
// watcher.DefaultRefresh) the whole tree is reconciled again, which
// catches anything a lost event would have carried.
func (m *Mirror) Run(ctx context.Context, emit func(events.Event)) error {
	if !m.root.IsMutable() {
		return errkind.E("mirror.Run", errkind.Usage, "only a mutable directory can be watched; use Sync")
	}
	if m.push != nil && m.push.p.Upload {
		return m.runUpload(ctx, emit)
	}
	wo := m.opts.Watch
	wo.Grid, wo.Recursive, wo.Logger = m.opts.Grid, true, m.log
	w, err := watcher.New([]cap.Cap{m.root}, wo)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newQueue()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, q.push) }()
	defer func() { cancel(); <-done }()
	var onChange func(string)
	if m.push != nil {
		onChange = m.push.mark
	}
	if lw, err := startLocalWatch(ctx, m.loc, m.log, m.localHook, onChange); err != nil {
		m.log.Warn("cannot watch local edits; every file is checked by its contents", "err", err)
		if m.push != nil {
			m.log.Warn("two-way sync: local changes are only noticed at start and at each refresh")
		}
	} else {
		m.lw.Store(lw)
		defer func() { m.lw.Store(nil); lw.close() }()
	}
	select {
	case <-w.Ready():
	case <-ctx.Done():
		return nil
	}
	if m.push != nil {
		// Offline edits first, against the journal: a local change
		// that lost to a remote one is kept beside it by the reconcile.
		m.push.mark("")
		m.push.flush(ctx, emit, true)
	}
	if err := m.Sync(ctx, emit); err != nil && ctx.Err() == nil {
		m.log.Warn("first reconcile incomplete", "err", err)
	}
	return m.live(ctx, q, emit)
}

// runUpload is Run for a live backup (Push.Upload): LOCALDIR is
// compared with the journal, then every local change is uploaded; the
// grid is not watched.
func (m *Mirror) runUpload(ctx context.Context, emit func(events.Event)) error {
	lw, err := startLocalWatch(ctx, m.loc, m.log, m.localHook, m.push.mark)
	if err != nil {
		m.log.Warn("cannot watch local edits; they are only noticed at start and at each refresh", "err", err)
	} else {
		defer lw.close()
	}
	m.push.mark("")
	m.push.flush(ctx, emit, true)
	q := newQueue() // never filled: nothing comes from the grid
	return m.live(ctx, q, emit)
}

// live applies queued watcher events, and a full reconcile every refresh.
func (m *Mirror) live(ctx context.Context, q *queue, emit func(events.Event)) error {
	refresh := m.opts.Watch.Refresh
	if refresh <= 0 {
		refresh = watcher.DefaultRefresh
	}
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	var pushSignal <-chan struct{}
	pushTimer := time.NewTimer(time.Hour)
	pushTimer.Stop()
	defer pushTimer.Stop()
	armed := false // pushTimer runs
	if m.push != nil {
		pushSignal = m.push.signal
		pushTimer.Reset(m.push.p.Quiet) // for what the first scan left to retry
		armed = true
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-pushSignal:
			if !armed {
				pushTimer.Reset(m.push.p.Quiet)
				armed = true
			}
		case <-pushTimer.C:
			armed = false
			if next := m.push.flush(ctx, emit, false); next > 0 {
				pushTimer.Reset(next)
				armed = true
			}
		case <-tick.C:
			if m.push != nil {
				m.push.mark("") // and the local tree against the journal: a missed event is caught here
				if m.push.p.Upload {
					continue
				}
			}
			s := m.session(emit, false, events.ViaRefresh)
			if err := s.reconcile(ctx, "", m.root); err != nil && ctx.Err() == nil {
				m.log.Warn("reconcile incomplete", "err", err)
			}
		case <-q.signal:
			for ev, ok := q.pop(); ok && ctx.Err() == nil; ev, ok = q.pop() {
				m.apply(ctx, ev, emit)
			}
		}
	}
}

// apply reconciles the path one watcher event names with what the grid
// holds there now.
func (m *Mirror) apply(ctx context.Context, ev events.Event, emit func(events.Event)) {
	if ev.Type == events.Warning {
		if emit != nil {
			emit(ev)
		}
		return
	}
	m.log.Debug("applying", "type", ev.Type, "path", ev.Path, "seqnum", ev.Seqnum)
	if ev.Path == "" {
		return // the root itself: entries changed are reported one by one
	}
	s := m.session(emit, false, ev.Via)
	c, err := s.resolve(ctx, ev.Path)
	switch {
	case errors.Is(err, errSkip):
		return
	case err != nil:
		if ctx.Err() == nil {
			s.warn(ev.Path, fmt.Sprintf("cannot look up: %v", err))
		}
		return
	case ev.Type == events.Changed && c != nil && c.IsDir():
		return // a directory whose entries did not change
	}
	if err := s.reconcile(ctx, ev.Path, c); err != nil && ctx.Err() == nil {
		s.warn(ev.Path, err.Error())
	}
}

// trusted reports whether the local watch saw no change to rel since
// the mirror wrote it, so size and mtime suffice to check it.
func (m *Mirror) trusted(rel string) bool {
	lw := m.lw.Load()
	return lw != nil && lw.trusted(rel)
}

// errSkip marks a path that goes through a name the mirror skips.
var errSkip = errors.New("skipped name")

// resolve follows p from the root, name by name, and returns the cap at
// p now, nil if nothing is there.
func (s *session) resolve(ctx context.Context, p string) (cap.Cap, error) {
	cur := s.m.root
	parts := splitPath(p)
	for i, name := range parts {
		if checkName(name, i == 0) != nil {
			return nil, errSkip
		}
		ents, err := s.m.r.ReadDir(ctx, cur)
		if err != nil {
			return nil, err
		}
		kids := s.children(path.Join(parts[:i]...), ents, false)
		k, ok := kids[name]
		switch {
		case !ok:
			if _, listed := findEntry(ents, name); listed {
				return nil, errSkip // present but skipped (a case clash)
			}
			return nil, nil
		case i == len(parts)-1:
			return k, nil
		case !k.IsDir():
			return nil, nil
		}
		cur = k
	}
	return cur, nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }

// conflictName is the name the remote version gets beside a local edit.
func (m *Mirror) conflictName(rel string, seq uint64) string {
	return withMarker(rel, fmt.Sprintf(".conflict-%s-%d", m.opts.Now().UTC().Format("20060102T150405.000Z"), seq))
}

// Dir returns the local directory.
func (m *Mirror) Dir() string { return m.loc.dir }

// statePath is the journal's path, for tests.
func (m *Mirror) statePath() string { return filepath.Join(m.loc.dir, StateDir, journalName) }

package watcher

import (
	"context"
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// watchRoot starts watching a root cap; wg is done when its baseline map
// (and, recursively, its children's) is.
func (w *Watcher) watchRoot(c *cap.Mutable, wg *sync.WaitGroup) {
	if e := w.addEntry(c, c.String(), "", nil); e != nil {
		wg.Add(1)
		w.initial(e, wg)
	}
}

// Add starts watching c (reduced to its read cap; a cap already watched
// is left as it is). Once Run has started, Add returns when c's first map
// is done or ctx ends, whichever comes first; that map is a baseline and
// reports nothing. Before Run, c simply joins the caps Run starts with.
func (w *Watcher) Add(ctx context.Context, c cap.Cap) error {
	m, err := readMutable("watcher.Add", c)
	if err != nil {
		return err
	}
	str := m.String()
	w.mu.Lock()
	if w.roots[str] != nil {
		w.mu.Unlock()
		return nil
	}
	w.roots[str] = &rootState{c: m}
	started := w.started
	w.mu.Unlock()
	if !started {
		return nil
	}
	var wg sync.WaitGroup
	w.watchRoot(m, &wg)
	waitGroup(ctx, &wg)
	return nil
}

// Remove stops watching a cap given to New or Add, named by its read
// cap, with everything found below it.
func (w *Watcher) Remove(readCap string) error {
	w.mu.Lock()
	r := w.roots[readCap]
	if r == nil {
		w.mu.Unlock()
		return errkind.E("watcher.Remove", errkind.NotFound, "%s is not watched", events.ShortCap(readCap))
	}
	delete(w.roots, readCap)
	if w.started {
		w.dropLocked(keyOf(r.c.SI))
	}
	w.mu.Unlock()
	w.subscriptionsChanged()
	return nil
}

// Pause stops reporting a root cap's changes (and those below it): its
// subscriptions are dropped and it is neither polled nor verified. It
// stays listed in Status, with Paused set.
func (w *Watcher) Pause(readCap string) error { return w.setPaused(readCap, true) }

// Resume undoes Pause and verifies the cap and everything below it at
// once, so that changes made while paused are reported as events.
func (w *Watcher) Resume(readCap string) error { return w.setPaused(readCap, false) }

func (w *Watcher) setPaused(readCap string, p bool) error {
	w.mu.Lock()
	r := w.roots[readCap]
	if r == nil {
		w.mu.Unlock()
		return errkind.E("watcher.Pause", errkind.NotFound, "%s is not watched", events.ShortCap(readCap))
	}
	was := r.paused
	r.paused = p
	var resumed []*entry
	if was && !p {
		for _, e := range w.entries {
			if e.root == readCap {
				resumed = append(resumed, e)
			}
		}
	}
	w.mu.Unlock()
	if was == p {
		return nil
	}
	w.subscriptionsChanged()
	for _, e := range resumed {
		w.hint(e, events.ViaRefresh, "", 0, true)
	}
	return nil
}

// Refresh starts a refresh now: every server is resubscribed on its live
// connection (one that is polled or down is polled, and its watch
// endpoint looked for again), then the caps that need it are verified
// (see Options.Refresh), with any change reported as an event. It does
// not wait for it.
func (w *Watcher) Refresh() {
	select {
	case w.refreshNow <- struct{}{}:
	default: // one is already due
	}
}

// pausedLocked reports whether e is paused (through its root). w.mu must
// be held.
func (w *Watcher) pausedLocked(e *entry) bool {
	r := w.roots[e.root]
	return r != nil && r.paused
}

package notifier

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// dirWatcher is the Notifier as the hub's watchserver.Watcher: one
// inotify watch per subscribed storage index's share directory, and, while
// such a directory is gone (its last share was deleted), one on its prefix
// directory, so that shares written again later are seen.
type dirWatcher Notifier

func (w *dirWatcher) Watch(si []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watched[base32.Encode(si)] = true
	err := w.fw.Add(w.src.ShareDir(si))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no shares: the subscription will be refused
	}
	return err
}

func (w *dirWatcher) Unwatch(si []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := base32.Encode(si)
	delete(w.watched, s)
	(*Notifier)(w).present(s)
	w.fw.Remove(w.src.ShareDir(si)) // may already be gone with the directory
}

// track follows share directories of watched storage indexes going away
// and coming back; it reports whether ev is such a directory appearing.
func (n *Notifier) track(ev fsnotify.Event) bool {
	dir, base := filepath.Split(ev.Name)
	if len(base) != 26 || filepath.Clean(dir) != filepath.Join(n.src.Dir, base[:2]) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.watched[base] {
		return false
	}
	switch {
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		n.absentLocked(base)
	case ev.Has(fsnotify.Create):
		if n.present(base) {
			if err := n.fw.Add(ev.Name); err != nil {
				n.log.Warn("watch sidecar: cannot watch re-created share directory", "dir", ev.Name, "err", err)
			}
			return true
		}
	}
	return false
}

// absentLocked records that watched index si's directory is gone and
// watches its prefix directory for it to come back.
func (n *Notifier) absentLocked(si string) {
	p := si[:2]
	if n.absent[p] == nil {
		if err := n.fw.Add(filepath.Join(n.src.Dir, p)); err != nil {
			n.log.Warn("watch sidecar: cannot watch prefix directory; a re-created share may be missed", "prefix", p, "err", err)
			return
		}
		n.absent[p] = map[string]bool{}
	}
	n.absent[p][si] = true
	// It may have come back before the prefix watch was in place.
	if dir := filepath.Join(n.src.Dir, p, si); n.fw.Add(dir) == nil {
		n.present(si)
	}
}

// present forgets that si's directory is gone, dropping the prefix watch
// when no other index waits on it; it reports whether si was absent.
// The caller holds n.mu.
func (n *Notifier) present(si string) bool {
	p := si[:2]
	if !n.absent[p][si] {
		return false
	}
	delete(n.absent[p], si)
	if len(n.absent[p]) == 0 {
		delete(n.absent, p)
		n.fw.Remove(filepath.Join(n.src.Dir, p))
	}
	return true
}

// change names a share that changed; shnum -1 means "any".
type change struct {
	si    string // base32 storage index
	shnum int
}

// eventLoop turns inotify events into hub notifications, each once the
// share has been quiet for the settle time. When inotify's queue
// overflows, events were lost: every client is told to resync.
func (n *Notifier) eventLoop(ctx context.Context) {
	due := map[change]time.Time{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-n.fw.Events:
			if !ok {
				return
			}
			n.track(ev)
			if c, ok := n.changeOf(ev); ok {
				due[c] = time.Now().Add(n.cfg.Settle)
				timer.Reset(n.cfg.Settle)
			}
		case err, ok := <-n.fw.Errors:
			if !ok {
				return
			}
			n.inotifyError(err)
		case <-timer.C:
			if next := n.fire(ctx, due); next > 0 {
				timer.Reset(next)
			}
		}
	}
}

// inotifyError handles an error from the inotify watcher: after a queue
// overflow every connection is closed with the resync code, since any
// watched share may have changed unseen.
func (n *Notifier) inotifyError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		n.log.Warn("watch sidecar: inotify queue overflowed; telling every client to resync", "err", err)
		n.hub.Resync()
		return
	}
	n.log.Warn("watch sidecar: inotify", "err", err)
}

// fire notifies every settled change and returns the wait until the next.
func (n *Notifier) fire(ctx context.Context, due map[change]time.Time) time.Duration {
	now := time.Now()
	var next time.Duration
	for c, at := range due {
		if wait := at.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		delete(due, c)
		si, err := base32.DecodeLen(c.si, 16)
		if err != nil {
			continue
		}
		n.hub.Notify(ctx, si, c.shnum)
	}
	return next
}

// changeOf maps an event in a share directory (or on it) to a change.
func (n *Notifier) changeOf(ev fsnotify.Event) (change, bool) {
	if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return change{}, false
	}
	dir, base := filepath.Split(ev.Name)
	if shnum, err := strconv.Atoi(base); err == nil && shnum >= 0 && shnum <= 255 {
		return change{si: filepath.Base(dir), shnum: shnum}, true
	}
	if len(base) == 26 { // the share directory itself went away
		return change{si: base, shnum: -1}, true
	}
	return change{}, false
}

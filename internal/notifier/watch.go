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
// inotify watch per subscribed storage index's share directory.
type dirWatcher Notifier

func (w *dirWatcher) Watch(si []byte) error {
	err := w.fw.Add(w.src.ShareDir(si))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no shares: the subscription will be refused
	}
	return err
}

func (w *dirWatcher) Unwatch(si []byte) {
	w.fw.Remove(w.src.ShareDir(si)) // may already be gone with the directory
}

// change names a share that changed; shnum -1 means "any".
type change struct {
	si    string // base32 storage index
	shnum int
}

// eventLoop turns inotify events into hub notifications, each once the
// share has been quiet for the settle time.
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
			if c, ok := n.changeOf(ev); ok {
				due[c] = time.Now().Add(n.cfg.Settle)
				timer.Reset(n.cfg.Settle)
			}
		case err, ok := <-n.fw.Errors:
			if !ok {
				return
			}
			n.log.Warn("watch sidecar: inotify", "err", err) // e.g. queue overflow
		case <-timer.C:
			if next := n.fire(ctx, due); next > 0 {
				timer.Reset(next)
			}
		}
	}
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

package mirror

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// localWatch follows LOCALDIR with fsnotify while a mirror runs, so that
// a file the mirror wrote, and that nobody touched since, is trusted
// after a size and mtime check instead of being hashed before each
// replace or delete.
//
// A path is clean from just before the mirror renames a file into place
// (if its directory is watched) until any event names it, except the one
// that rename causes: an event on a path is taken as the mirror's own
// only when what is there is the very file renamed there (same inode,
// size and mtime), and never for a write or chmod. Everything else, and
// everything after a lost-events overflow, is dirty, so the caller hashes
// it as on start. Errors only ever make more paths dirty.
type localWatch struct {
	l    *local
	w    *fsnotify.Watcher
	log  *slog.Logger
	hook func(rel string) bool // tests: sees each event first; true drops it
	// onChange, if set, is called with each path an event names that is
	// not the mirror's own write (two-way sync uploads it).
	onChange func(rel string)
	done     chan struct{}

	mu     sync.Mutex
	dirs   map[string]bool        // watched directories; "" is LOCALDIR
	clean  map[string]bool        // files written by the mirror, untouched since
	ours   map[string]fs.FileInfo // what the mirror last renamed into a path
	warned bool                   // a watch could not be added (reported once)
}

// startLocalWatch watches every directory below l (but the state
// directory) until ctx is done or close is called.
func startLocalWatch(ctx context.Context, l *local, log *slog.Logger, hook func(string) bool, onChange func(string)) (*localWatch, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	lw := &localWatch{l: l, w: w, log: log, hook: hook, onChange: onChange, done: make(chan struct{}),
		dirs: map[string]bool{}, clean: map[string]bool{}, ours: map[string]fs.FileInfo{}}
	lw.mu.Lock()
	lw.addTreeLocked("")
	lw.mu.Unlock()
	go lw.run(ctx)
	return lw, nil
}

// close stops the watch and waits for its goroutine.
func (lw *localWatch) close() {
	lw.w.Close()
	<-lw.done
}

func (lw *localWatch) run(ctx context.Context) {
	defer close(lw.done)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-lw.w.Events:
			if !ok {
				return
			}
			lw.handle(ev)
		case err, ok := <-lw.w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				lw.overflow()
			} else {
				lw.log.Warn("local watch", "err", err)
			}
		}
	}
}

// rel maps an event's name to a slash path below LOCALDIR, refusing the
// state directory and temporary files (the mirror's own).
func (lw *localWatch) rel(name string) (string, bool) {
	r, err := filepath.Rel(lw.l.dir, name)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", false
	}
	r = filepath.ToSlash(r)
	if r == "." {
		r = ""
	}
	if r == StateDir || strings.HasPrefix(r, StateDir+"/") || strings.HasPrefix(path.Base(r), tmpPrefix) {
		return "", false
	}
	return r, true
}

func (lw *localWatch) handle(ev fsnotify.Event) {
	rel, ok := lw.rel(ev.Name)
	if !ok || lw.hook != nil && lw.hook(rel) {
		return
	}
	if lw.handleLocked(ev, rel) && lw.onChange != nil {
		lw.onChange(rel)
	}
}

// handleLocked updates the watch for ev at rel and reports whether the
// event is someone else's change.
func (lw *localWatch) handleLocked(ev fsnotify.Event, rel string) bool {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		lw.unwatchLocked(rel)
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			lw.addTreeLocked(rel)
		}
	}
	if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Chmod) && lw.oursLocked(rel, ev.Name) {
		return false
	}
	delete(lw.clean, rel)
	return true
}

// oursLocked reports whether the file at rel is the one the mirror last
// renamed there.
func (lw *localWatch) oursLocked(rel, name string) bool {
	want := lw.ours[rel]
	if want == nil {
		return false
	}
	fi, err := os.Lstat(name)
	return err == nil && os.SameFile(want, fi) && fi.Size() == want.Size() && fi.ModTime().Equal(want.ModTime())
}

// overflow: events were lost, so nothing is trusted any more, and
// directories made meanwhile are watched.
func (lw *localWatch) overflow() {
	lw.log.Warn("local watch: events lost; every file is checked by its contents again")
	lw.mu.Lock()
	defer lw.mu.Unlock()
	clear(lw.clean)
	lw.addTreeLocked("")
	if lw.onChange != nil {
		lw.onChange("") // every file is checked against the journal
	}
}

// addTree watches the directory rel and every directory below it.
func (lw *localWatch) addTree(rel string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if !lw.dirs[rel] {
		lw.addTreeLocked(rel)
	}
}

func (lw *localWatch) addTreeLocked(rel string) {
	top := rel
	if top == "" {
		top = "."
	}
	fs.WalkDir(lw.l.root.FS(), top, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p == "." {
			p = ""
		}
		if _, ok := lw.rel(filepath.Join(lw.l.dir, native(p))); !ok {
			return fs.SkipDir
		}
		if lw.dirs[p] {
			return nil
		}
		if err := lw.w.Add(filepath.Join(lw.l.dir, native(p))); err != nil {
			if !lw.warned {
				lw.warned = true
				lw.log.Warn("local watch: cannot watch a directory; its files are checked by their contents", "path", p, "err", err)
			}
			return nil
		}
		lw.dirs[p] = true
		return nil
	})
}

// unwatchLocked forgets rel if it was a watched directory, and
// everything below it: a directory removed or renamed.
func (lw *localWatch) unwatchLocked(rel string) {
	if !lw.dirs[rel] {
		return
	}
	inside := func(p string) bool { return rel == "" || p == rel || strings.HasPrefix(p, rel+"/") }
	for d := range lw.dirs {
		if inside(d) {
			lw.w.Remove(filepath.Join(lw.l.dir, native(d)))
			delete(lw.dirs, d)
		}
	}
	for p := range lw.clean {
		if inside(p) {
			delete(lw.clean, p)
		}
	}
}

// willInstall is called just before the file fi (a temporary file) is
// renamed to rel: rel is clean from now on if its directory is watched.
// An event about the file rel held before comes later and makes it dirty
// again, which only costs a hash.
func (lw *localWatch) willInstall(rel string, fi fs.FileInfo) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.ours[rel] = fi
	dir := path.Dir(rel)
	if dir == "." {
		dir = ""
	}
	if lw.dirs[dir] {
		lw.clean[rel] = true
	}
}

// forget makes rel dirty and drops what the mirror wrote there.
func (lw *localWatch) forget(rel string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	delete(lw.clean, rel)
	delete(lw.ours, rel)
}

// trusted reports whether rel is clean: written by the mirror and not
// touched since.
func (lw *localWatch) trusted(rel string) bool {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.clean[rel]
}

package mirror

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

// session is one reconcile (of the tree or of one event's path).
type session struct {
	m     *Mirror
	emit  func(events.Event)
	quiet bool // report only conflicts and warnings, not each file
	via   events.Via
	prog  *progress

	emitMu sync.Mutex // fetches run in parallel; emit is called by one at a time
}

func (m *Mirror) session(emit func(events.Event), quiet bool, via events.Via) *session {
	if via == "" {
		via = events.ViaRefresh
	}
	return &session{m: m, emit: emit, quiet: quiet, via: via, prog: &progress{now: m.opts.Now}}
}

// remote is one file or directory found below the reconciled path.
type remote struct {
	path string
	c    cap.Cap
}

// tree is what a walk found: files, directories and the directories that
// could not be read (nothing below them is deleted).
type tree struct {
	files      []remote
	dirs       map[string]bool
	unreadable []string
}

// reconcile makes the local subtree at p match c (nil: nothing there).
func (s *session) reconcile(ctx context.Context, p string, c cap.Cap) error {
	t := &tree{dirs: map[string]bool{}}
	switch {
	case c == nil:
	case c.IsDir():
		t.dirs[p] = true
		s.walk(ctx, p, c, t)
	default:
		t.files = append(t.files, remote{p, c})
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	want := map[string]bool{}
	for _, f := range t.files {
		want[f.path] = true
	}
	s.removeGone(ctx, p, want, t)
	if p != "" && !t.dirs[p] {
		s.m.loc.removeEmptyDirs(p) // a directory gone remotely, emptied earlier
	}
	dirs := make([]string, 0, len(t.dirs))
	for d := range t.dirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	blocked := map[string]bool{}
	for _, d := range dirs {
		if err := s.m.loc.mkdirs(d); err != nil {
			s.warn(d, fmt.Sprintf("cannot make directory, skipping what is below: %v", err))
			blocked[d] = true
		} else if lw := s.m.lw.Load(); lw != nil {
			lw.addTree(d)
		}
	}
	return s.fetchAll(ctx, t.files, blocked)
}

// walk lists the tree below directory c at p into t, reading up to
// Parallel directories at once.
func (s *session) walk(ctx context.Context, p string, c cap.Cap, t *tree) {
	w := &walker{s: s, t: t}
	w.g.SetLimit(s.m.opts.Parallel)
	w.dir(ctx, p, c, nil)
	w.g.Wait()
	sort.Slice(t.files, func(i, j int) bool { return t.files[i].path < t.files[j].path })
}

// walker is one walk of a tree.
type walker struct {
	s  *session
	g  errgroup.Group
	mu sync.Mutex // guards t
	t  *tree
}

// dir lists the directory c at p and walks its subdirectories, in new
// goroutines while there is room. ancestors are the caps of the
// directories above, so a cycle is followed once.
func (w *walker) dir(ctx context.Context, p string, c cap.Cap, ancestors []string) {
	key := c.String()
	if slices.Contains(ancestors, key) {
		w.s.warn(p, "directory contains itself; not followed again")
		return
	}
	ancestors = append(slices.Clip(ancestors), key)
	d, err := w.s.m.r.ReadDirAll(ctx, c)
	if err != nil {
		if ctx.Err() == nil {
			w.s.warn(p, fmt.Sprintf("cannot read directory: %v", err))
		}
		w.mu.Lock()
		w.t.unreadable = append(w.t.unreadable, p)
		w.mu.Unlock()
		return
	}
	for _, line := range dirnode.Describe(d.Unusable, 10) {
		w.s.warn(p, "skipped "+line)
	}
	for n, child := range w.s.children(p, d.Entries, true) {
		cp := path.Join(p, n)
		w.mu.Lock()
		if child.IsDir() {
			w.t.dirs[cp] = true
		} else {
			w.t.files = append(w.t.files, remote{cp, child})
		}
		w.mu.Unlock()
		if !child.IsDir() {
			w.s.prog.addTotal(sizeOf(child))
			continue
		}
		sub := func() error { w.dir(ctx, cp, child, ancestors); return nil }
		if !w.g.TryGo(sub) {
			sub() // no room: walk it here rather than wait for a slot
		}
	}
}

// children returns the entries of the directory at p that can be
// mirrored, by name, as read caps; with warn, each skipped one is
// reported.
func (s *session) children(p string, ents []dirnode.Entry, warn bool) map[string]cap.Cap {
	skip := func(name, why string) {
		if warn {
			s.warn(path.Join(p, name), "skipped: "+why)
		}
	}
	var clash map[string]bool
	if s.m.loc.foldCase {
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name
		}
		clash = foldClashes(names)
	}
	out := make(map[string]cap.Cap, len(ents))
	for _, e := range ents {
		if err := checkName(e.Name, p == ""); err != nil {
			if warn {
				s.warn(p, "skipped an entry: "+err.Error())
			}
			continue
		}
		if s.m.push != nil && s.m.push.ign.ignored(path.Join(p, e.Name)) {
			continue // ignored here: neither uploaded nor downloaded
		}
		if clash[e.Name] {
			skip(e.Name, "its name clashes with another's on this case-insensitive file system")
			continue
		}
		c, err := cap.Parse(e.ROCap)
		if err != nil || e.ROCap == "" {
			skip(e.Name, "no read cap this program knows")
			continue
		}
		c = c.ReadOnly()
		if m, ok := c.(*cap.Mutable); ok && m.Access == cap.Verify {
			skip(e.Name, "a verify cap cannot be read")
			continue
		}
		out[e.Name] = c
	}
	return out
}

func findEntry(ents []dirnode.Entry, name string) (dirnode.Entry, bool) {
	for _, e := range ents {
		if e.Name == name {
			return e, true
		}
	}
	return dirnode.Entry{}, false
}

// sizeOf is a file's size when its cap says it (0 for mutables, whose
// size is learned from the map).
func sizeOf(c cap.Cap) int64 {
	switch c := c.(type) {
	case *cap.CHK:
		return int64(c.Size)
	case *cap.LIT:
		return int64(len(c.Data))
	}
	return 0
}

// removeGone deletes the recorded files at or below p that the walk did
// not find, except below unreadable directories.
func (s *session) removeGone(ctx context.Context, p string, want map[string]bool, t *tree) {
	for _, rp := range s.m.st.under(p) {
		if want[rp] || below(rp, t.unreadable) || ctx.Err() != nil {
			continue
		}
		s.remove(rp, p, t.dirs)
	}
}

func below(p string, prefixes []string) bool {
	for _, d := range prefixes {
		if d == "" || p == d || len(p) > len(d) && p[:len(d)] == d && p[len(d)] == '/' {
			return true
		}
	}
	return false
}

// remove deletes the local file rp unless the user changed it, then
// prunes directories that are no longer wanted.
func (s *session) remove(rp, top string, dirs map[string]bool) {
	rec := s.m.st.get(rp)
	if s.m.opts.Keep {
		s.forget(rp)
		s.warn(rp, "removed remotely; kept (--delete=false)")
		return
	}
	f, err := s.m.loc.look(rp, !s.m.trusted(rp))
	switch {
	case err != nil:
		s.warn(rp, fmt.Sprintf("removed remotely, left in place: %v", err))
		return
	case f.exists && (rec.Conflict || !f.matches(rec) || !s.m.loc.still(rp, f)):
		s.forget(rp)
		msg := "removed remotely but changed locally; the local file is kept"
		if s.m.push != nil {
			msg += " and uploaded again"
			s.m.push.mark(rp)
		}
		s.report(Conflict, rp, rec.Cap, rec.Seqnum, f.size, msg)
		return
	case f.exists:
		if err := s.m.loc.remove(rp); err != nil {
			s.warn(rp, fmt.Sprintf("cannot remove: %v", err))
			return
		}
	}
	s.forget(rp)
	s.m.loc.prune(path.Dir(rp), parentOf(top), func(d string) bool { return dirs[d] })
	if !s.quiet {
		s.report(events.Removed, rp, rec.Cap, rec.Seqnum, rec.Size, "")
	}
}

func parentOf(p string) string {
	if p == "" {
		return ""
	}
	return path.Dir(p)
}

func (s *session) forget(rp string) {
	if lw := s.m.lw.Load(); lw != nil {
		lw.forget(rp)
	}
	if err := s.m.st.put(Record{Path: rp, Deleted: true}); err != nil {
		s.warn(rp, fmt.Sprintf("cannot journal: %v", err))
	}
}

// fetchAll brings every file up to date, Parallel at a time.
func (s *session) fetchAll(ctx context.Context, files []remote, blocked map[string]bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.m.opts.Parallel)
	var errs []error
	errc := make(chan error, len(files))
	for _, f := range files {
		if below(f.path, keys(blocked)) {
			continue
		}
		g.Go(func() error {
			if err := s.fetch(gctx, f); err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				s.warn(f.path, err.Error())
				errc <- err
			}
			return nil
		})
	}
	err := g.Wait()
	close(errc)
	for e := range errc {
		errs = append(errs, e)
	}
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d files not mirrored, the first: %w", len(errs), errs[0])
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// version is the remote version of one file about to be fetched.
type version struct {
	cap      string
	seqnum   uint64
	roothash string
	size     int64
	read     func(ctx context.Context, w io.Writer) error
}

// versionOf maps a mutable (or describes an immutable) file.
func (s *session) versionOf(ctx context.Context, c cap.Cap) (*version, error) {
	v := &version{cap: c.String(), size: sizeOf(c)}
	m, ok := c.(*cap.Mutable)
	if !ok {
		v.read = func(ctx context.Context, w io.Writer) error { _, err := s.m.r.Cat(ctx, w, c); return err }
		return v, nil
	}
	mp, err := s.m.r.Map(ctx, m)
	if err != nil {
		return nil, err
	}
	best, err := retrieve.Recoverable(mp)
	if err != nil {
		return nil, err
	}
	v.seqnum, v.roothash, v.size = best.ID.Seqnum, base32.Encode(best.ID.RootHash[:]), best.ID.DataLength
	s.prog.addBytes(v.size)
	v.read = func(ctx context.Context, w io.Writer) error {
		_, err := retrieve.Mutable(ctx, w, m.Readkey, m.SI, best, nil)
		return err
	}
	return v, nil
}

// fetch brings one file up to date: skipped if the journal already holds
// its version and the local file is untouched, else downloaded and put in
// place, or beside a local edit.
func (s *session) fetch(ctx context.Context, f remote) error {
	if s.m.push != nil && s.m.push.deferIfPending(f.path) {
		return nil // a local change comes first; if it loses, the file is reconciled again
	}
	rec := s.m.st.get(f.path)
	v, err := s.versionOf(ctx, f.c)
	if err != nil {
		return err
	}
	if rec.sameRemote(v.cap, v.seqnum, v.roothash) {
		if done, err := s.current(f.path, rec); done || err != nil {
			s.prog.skip(v.size)
			return err
		}
	}
	t, err := s.m.loc.writeTemp(f.path, func(w io.Writer) error {
		return v.read(ctx, &progressWriter{w: w, p: s.prog})
	})
	if err != nil {
		return err
	}
	s.prog.fileDone()
	return s.place(f.path, rec, v, t)
}

// current reports whether the file at rp is still what rec says was
// written there, so nothing needs fetching. A local edit of an unchanged
// remote file is left alone.
func (s *session) current(rp string, rec *Record) (bool, error) {
	f, err := s.m.loc.look(rp, false)
	if err == nil && !f.exists && s.m.push != nil && !rec.Conflict {
		s.m.push.mark(rp) // deleted here: the delete goes to the grid
		return true, nil
	}
	if err != nil || !f.exists {
		return false, err // missing: fetch it again
	}
	if rec.Conflict {
		return true, nil // the user's file; the remote one is beside it
	}
	if f.matches(rec) {
		return true, nil
	}
	if f, err = s.m.loc.look(rp, true); err != nil {
		return false, err
	}
	if f.matches(rec) {
		rec.MTime = f.mtime // touched, not changed
		return true, s.m.st.put(*rec)
	}
	s.m.log.Info("local edit kept; the remote file did not change", "path", rp)
	if s.m.push != nil {
		s.m.push.mark(rp)
	}
	return true, nil
}

// place moves a complete download into rp, unless the user changed what
// is there: then it goes beside it and a conflict is reported. What is
// there is hashed unless the local watch vouches for it.
func (s *session) place(rp string, rec *Record, v *version, t *temp) error {
	f, err := s.m.loc.look(rp, !s.m.trusted(rp))
	if err != nil {
		s.m.loc.discard(t)
		return err
	}
	newRec := Record{Path: rp, Cap: v.cap, Seqnum: v.seqnum, RootHash: v.roothash, Size: t.size, SHA256: t.sha256}
	typ := events.Added
	switch {
	case f.exists && f.regular && f.sha256 == t.sha256:
		s.m.loc.discard(t) // already there (a crash before the journal was written)
		newRec.MTime = f.mtime
		return s.m.st.put(newRec)
	case f.exists && (rec == nil || rec.Conflict || !f.matches(rec) || !s.m.loc.still(rp, f)):
		if s.m.push != nil {
			return s.keepBoth(rp, newRec, t)
		}
		return s.conflict(rp, newRec, t)
	case f.exists && rec != nil && rec.Cap == v.cap:
		typ = events.Changed // the same mutable, a new version (docs/events.md)
	case f.exists:
		typ = events.Modified // the entry names another object now
	}
	now, err := s.install(t, rp)
	if err != nil {
		return err
	}
	newRec.MTime = now.mtime
	if err := s.m.st.put(newRec); err != nil {
		return err
	}
	if !s.quiet {
		s.report(typ, rp, v.cap, v.seqnum, t.size, "")
	}
	return nil
}

// install renames t to rp, telling the local watch first so that the
// rename's own event does not make rp dirty.
func (s *session) install(t *temp, rp string) (found, error) {
	lw := s.m.lw.Load()
	if lw != nil {
		if fi, err := s.m.loc.root.Lstat(native(t.name)); err == nil {
			lw.willInstall(rp, fi)
		}
	}
	now, err := s.m.loc.install(t, rp)
	if err != nil && lw != nil {
		lw.forget(rp)
	}
	return now, err
}

// conflict writes the remote version beside the user's file.
func (s *session) conflict(rp string, rec Record, t *temp) error {
	name := s.m.conflictName(rp, rec.Seqnum)
	if _, err := s.m.loc.install(t, name); err != nil {
		return err
	}
	rec.Conflict = true
	if err := s.m.st.put(rec); err != nil {
		return err
	}
	s.report(Conflict, rp, rec.Cap, rec.Seqnum, rec.Size, "changed locally; the remote version is in "+path.Base(name))
	return nil
}

// keepBoth, in two-way sync, is a remote change of a file this device
// changed too: the local version moves to a conflict copy, which is
// uploaded like any new file, and the grid's version takes the name.
// Every replica then holds both under the same names.
func (s *session) keepBoth(rp string, rec Record, t *temp) error {
	name := s.m.push.conflictCopy(rp)
	if err := s.m.loc.root.Rename(native(rp), native(name)); err != nil {
		s.m.loc.discard(t)
		return err
	}
	s.m.push.mark(name)
	now, err := s.install(t, rp)
	if err != nil {
		return err
	}
	rec.MTime = now.mtime
	if err := s.m.st.put(rec); err != nil {
		return err
	}
	s.report(Conflict, rp, rec.Cap, rec.Seqnum, rec.Size, "changed here and on the grid; this device's version is now "+path.Base(name))
	return nil
}

// report emits an event about rp.
func (s *session) report(t events.Type, rp, c string, seq uint64, size int64, msg string) {
	if s.emit == nil {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.emit(events.Event{Type: t, Time: s.m.opts.Now(), Cap: c, Path: rp, Root: s.m.rootStr,
		Seqnum: seq, Size: size, Via: s.via, Message: msg})
}

// warn logs and reports a warning about p.
func (s *session) warn(p, msg string) {
	s.m.log.Warn(msg, "path", p)
	s.report(events.Warning, p, "", 0, -1, msg)
}

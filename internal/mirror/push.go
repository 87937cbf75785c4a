package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
	"github.com/tahoe-watch/tahoe-watch/internal/upload"
)

// Event types of two-way sync.
const (
	// Uploaded: a local file (or directory) new or changed since the last
	// sync is now linked at Path on the grid; Cap is its read cap.
	Uploaded events.Type = "uploaded"
	// Unlinked: a file deleted locally was unlinked from the grid.
	Unlinked events.Type = "unlinked"
)

// DefaultQuiet is how long a local file must go unwritten before it is
// uploaded.
const DefaultQuiet = 200 * time.Millisecond

// Push turns a mirror into two-way sync: local edits go to the grid.
type Push struct {
	Editor   *dirop.Editor    // required: edits the tree's directories
	Uploader *upload.Uploader // required: stores new file contents as CHK (or LIT)
	// Device names this replica in conflict copies; default "device".
	Device string
	// Quiet is the time a file must go unwritten before it is uploaded;
	// default DefaultQuiet.
	Quiet time.Duration
	// Ignore are glob patterns of local paths that never leave the
	// machine, beside the lines of LOCALDIR/.tahoe-watch-ignore.
	Ignore []string
	// Upload makes sync one-way, LOCALDIR to grid (a live backup): the
	// grid's changes are not applied locally, and a local change
	// replaces (or a local delete unlinks) whatever the grid holds.
	Upload bool
}

// errRemoteChanged: the grid's entry is no longer the version this
// device last synced, so the local change is not applied over it.
var errRemoteChanged = errors.New("changed on the grid since the last sync")

// pusher uploads local changes. Paths are marked dirty by the local
// watch (or the start-up scan) and handled, in path order, once they
// have been quiet for Push.Quiet, by the mirror's one apply loop, so a
// local and a remote change of one path are never handled at once.
type pusher struct {
	m      *Mirror
	p      Push
	root   *cap.Mutable // write cap
	ign    *ignorer
	signal chan struct{}

	mu    sync.Mutex
	dirty map[string]time.Time // path → last local event
	// deferred are dirty paths whose remote change a reconcile skipped;
	// they are reconciled once their local change is handled.
	deferred map[string]bool
	failures map[string]uint // failed attempts in a row, by path
}

func newPusher(m *Mirror, root *cap.Mutable, p Push) (*pusher, error) {
	if p.Editor == nil || p.Uploader == nil {
		return nil, errors.New("two-way sync needs an editor and an uploader")
	}
	if p.Quiet <= 0 {
		p.Quiet = DefaultQuiet
	}
	p.Device = deviceName(p.Device)
	file, err := m.loc.root.ReadFile(IgnoreFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ign, err := newIgnorer(p.Ignore, file)
	if err != nil {
		return nil, errkind.E("mirror.Open", errkind.Usage, err)
	}
	return &pusher{m: m, p: p, root: root, ign: ign, signal: make(chan struct{}, 1),
		dirty: map[string]time.Time{}, deferred: map[string]bool{}, failures: map[string]uint{}}, nil
}

// deviceName keeps a name safe in a file name: letters, digits, '.',
// '_' and '-', at most 64 of them.
func deviceName(d string) string {
	var b strings.Builder
	for _, r := range d {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "device"
	}
	return b.String()
}

// mark records a local event at rel.
func (p *pusher) mark(rel string) {
	if p.ign.ignored(rel) {
		return
	}
	p.mu.Lock()
	p.dirty[rel] = p.m.opts.Now()
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// deferIfPending reports whether rel has a local change not yet
// handled; if so, the remote version is reconciled after it.
func (p *pusher) deferIfPending(rel string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.dirty[rel]; ok {
		p.deferred[rel] = true
		return true
	}
	return false
}

// takeDeferred reports (once) whether rel's remote change was deferred.
func (p *pusher) takeDeferred(rel string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.deferred[rel]
	delete(p.deferred, rel)
	return d
}

// due takes the dirty paths quiet for long enough (all with force), in
// order, and says when the next one will be.
func (p *pusher) due(force bool) ([]string, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.opts.Now()
	var out []string
	next := time.Duration(0)
	for rel, t := range p.dirty {
		if wait := p.p.Quiet - now.Sub(t); wait > 0 && !force {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		out = append(out, rel)
		delete(p.dirty, rel)
	}
	sort.Strings(out)
	return out, next
}

// flush handles every due path; it returns when to call it again (0:
// nothing is waiting).
func (p *pusher) flush(ctx context.Context, emit func(events.Event), force bool) time.Duration {
	rels, next := p.due(force)
	s := p.m.session(emit, false, events.ViaRefresh)
	for _, rel := range rels {
		if ctx.Err() != nil {
			return 0
		}
		err := p.handle(ctx, s, rel)
		if errors.Is(err, errBusy) {
			continue // marked again; a deferred remote change waits too
		}
		if err != nil && ctx.Err() == nil {
			s.warn(rel, "not uploaded: "+err.Error())
			p.retryLater(rel)
		} else if err == nil {
			p.succeeded(rel)
		}
		if err == nil && p.takeDeferred(rel) {
			if err := p.pull(ctx, s, rel); err != nil && ctx.Err() == nil {
				s.warn(rel, err.Error())
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.dirty) > 0 && next == 0 {
		next = p.p.Quiet
	}
	return next
}

// retryLater marks rel dirty again after a failure (a server down): the
// next attempt comes after a pause that doubles with each failure, from
// one second up to maxRetryWait, not in a tight loop.
func (p *pusher) retryLater(rel string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wait := min(time.Second<<min(p.failures[rel], 10), maxRetryWait)
	p.failures[rel]++
	if _, ok := p.dirty[rel]; !ok {
		p.dirty[rel] = p.m.opts.Now().Add(wait)
	}
}

// maxRetryWait bounds the pause before a failed upload is tried again.
const maxRetryWait = 5 * time.Minute

// succeeded forgets rel's failures.
func (p *pusher) succeeded(rel string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.failures, rel)
}

// handle makes the grid hold what is at rel locally, if this device
// changed it since the last sync.
func (p *pusher) handle(ctx context.Context, s *session, rel string) error {
	return p.handleIn(ctx, s, rel, true)
}

// handleIn is handle; top is false inside a directory being pushed,
// whose caller looks for deleted files once for the whole subtree.
func (p *pusher) handleIn(ctx context.Context, s *session, rel string, top bool) error {
	if rel == "" {
		return p.pushDir(ctx, s, rel, top)
	}
	if p.ign.ignored(rel) || !validLocalPath(rel) {
		return nil
	}
	f, err := p.m.loc.look(rel, false)
	if err != nil {
		return err
	}
	switch {
	case f.dir:
		return p.pushDir(ctx, s, rel, top)
	case f.regular:
		return p.pushFile(ctx, s, rel, f)
	case f.exists:
		return nil // symlinks and devices stay local
	}
	return p.pushGone(ctx, s, rel)
}

// validLocalPath reports whether every name of rel can be an entry.
func validLocalPath(rel string) bool {
	for i, n := range strings.Split(rel, "/") {
		if checkName(n, i == 0) != nil {
			return false
		}
	}
	return true
}

// pushDir makes sure the directory exists on the grid and handles what
// is in it (a directory made with files in it before it was watched).
// With top, it then unlinks the files recorded anywhere below rel but
// gone locally; nested calls leave that to the top one, so each record
// is looked at once per scan, not once per directory above it.
func (p *pusher) pushDir(ctx context.Context, s *session, rel string, top bool) error {
	ents, err := fs.ReadDir(p.m.loc.root.FS(), nativeOrDot(rel))
	if err != nil {
		return err
	}
	var kids []string
	for _, e := range ents {
		if child := path.Join(rel, e.Name()); !p.ign.ignored(child) {
			kids = append(kids, child)
		}
	}
	if len(kids) == 0 && rel != "" {
		// Only an empty directory needs making here: a file's link
		// makes its parents, so a full scan costs no grid reads for
		// directories that hold files.
		if err := p.ensureDir(ctx, s, rel); err != nil {
			return err
		}
	}
	for _, child := range kids {
		if err := p.handleIn(ctx, s, child, false); err != nil && !errors.Is(err, errBusy) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.warn(child, "not uploaded: "+err.Error())
			p.retryLater(child)
		}
	}
	if !top {
		return nil
	}
	// Files recorded below rel but gone locally (deleted while the
	// directory was not watched).
	for _, rp := range p.m.st.under(rel) {
		if f, err := p.m.loc.look(rp, false); err == nil && !f.exists {
			if err := p.pushGone(ctx, s, rp); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.warn(rp, "not unlinked: "+err.Error())
				p.retryLater(rp)
			}
		}
	}
	return nil
}

// ensureDir makes the directory rel on the grid if it is not there.
func (p *pusher) ensureDir(ctx context.Context, s *session, rel string) error {
	_, err := p.m.remoteDir(ctx, rel, false)
	if errkind.KindOf(err) != errkind.NotFound {
		return err
	}
	if _, err := p.m.remoteDir(ctx, rel, true); err != nil {
		return err
	}
	s.report(Uploaded, rel, "", 0, 0, "directory")
	return nil
}

func nativeOrDot(rel string) string {
	if rel == "" {
		return "."
	}
	return native(rel)
}

// remoteDir returns the write cap of the directory at rel on the grid.
func (m *Mirror) remoteDir(ctx context.Context, rel string, create bool) (*cap.Mutable, error) {
	var parts []string
	if rel != "" && rel != "." {
		parts = splitPath(rel)
	}
	return m.push.p.Editor.Dir(ctx, m.push.root, parts, create)
}

// pushFile uploads rel if it differs from what was last synced there.
func (p *pusher) pushFile(ctx context.Context, s *session, rel string, f found) error {
	rec := p.m.st.get(rel)
	if rec != nil && !rec.Conflict && f.matches(rec) {
		return nil
	}
	src, err := p.open(rel, f)
	if err != nil {
		return err
	}
	defer src.Close()
	if openForWriting(src) {
		p.mark(rel) // looked at again once quiet, until the writer closes it
		return errBusy
	}
	base := ""
	if rec != nil {
		base = rec.Cap
	}
	newRec := Record{Path: rel, Size: f.size, MTime: f.mtime}
	if mc, ok := p.mutableAt(rec); ok {
		err = p.pushMutable(ctx, rel, src, f, mc, rec, &newRec)
	} else {
		err = p.pushImmutable(ctx, rel, base, src, f, rec, &newRec)
	}
	switch {
	case errors.Is(err, errTouched):
		rec.MTime = f.mtime // touched, not changed
		return p.m.st.put(*rec)
	case errors.Is(err, errRemoteChanged):
		p.m.log.Info("changed here and on the grid; keeping both", "path", rel)
		return p.pull(ctx, s, rel)
	case err != nil:
		return err
	}
	if err := p.m.st.put(newRec); err != nil {
		return err
	}
	s.report(Uploaded, rel, newRec.Cap, newRec.Seqnum, newRec.Size, "")
	return nil
}

// errBusy: the file is still open for writing; it is not uploaded
// (nor reported) until it is closed.
var errBusy = errors.New("still open for writing")

// errTouched: the file's mtime moved but its contents are what was
// last synced.
var errTouched = errors.New("contents unchanged")

// errSameContents stops an upload whose contents a recorded file
// already has.
var errSameContents = errors.New("contents already on the grid")

// open opens rel and checks it is still the regular file f describes
// (not replaced since it was looked at).
func (p *pusher) open(rel string, f found) (*os.File, error) {
	r, err := p.m.loc.root.OpenFile(native(rel), os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return nil, err
	}
	fi, err := r.Stat()
	if err == nil && (!fi.Mode().IsRegular() || fi.Size() != f.size || fi.ModTime().UnixNano() != f.mtime) {
		p.mark(rel)
		err = errChanged
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// errChanged: the file changed while it was being read or uploaded.
var errChanged = errors.New("changed while being read; trying again once it is quiet")

// unchanged reports whether the file read through pr held one version
// throughout (every pass read the same bytes) and is still as f found
// it; if not, rel is marked for another attempt.
func (p *pusher) unchanged(rel string, f found, pr *passReader) bool {
	if pr.consistent() && p.m.loc.still(rel, f) {
		return true
	}
	p.mark(rel)
	return false
}

// pushImmutable uploads the open file src as a CHK (or LIT) and links
// it at rel. The upload reads the file twice (the convergent key hashes
// the contents, then the segments are encoded); the SHA-256 the
// journal keeps is taken during the first pass, and comparing the two
// passes shows an edit made meanwhile, which is then not linked. A file
// whose contents are those last synced (touched) or those of another
// recorded file (a rename or copy) is read once and not uploaded.
func (p *pusher) pushImmutable(ctx context.Context, rel, base string, src io.ReaderAt, f found, rec, newRec *Record) error {
	var same cap.Cap
	pr := &passReader{r: src, size: f.size, hook: p.m.loc.readHook(rel)}
	pr.first = func(sum string) error {
		if rec != nil && !rec.Conflict && sum == rec.SHA256 {
			return errTouched
		}
		if same = p.sameContents(sum, f.size); same != nil {
			return errSameContents
		}
		return nil
	}
	done := p.progress(rel, f.size)
	res, err := p.p.Uploader.UploadFrom(ctx, pr, f.size)
	stop := pr.stopReason()
	if err != nil && stop == nil {
		return err // not linked; tried again after a pause
	}
	if !p.unchanged(rel, f, pr) {
		return errChanged
	}
	done()
	newRec.SHA256 = pr.sum()
	switch stop {
	case errTouched:
		return errTouched
	case errSameContents:
		return p.linkCap(ctx, rel, base, same, newRec)
	}
	return p.linkCap(ctx, rel, base, res.Cap, newRec)
}

// pushMutable publishes the open file src as the next version of the
// mutable file mc: it is read once, whole, as a mutable publish needs.
func (p *pusher) pushMutable(ctx context.Context, rel string, src io.ReaderAt, f found, mc *cap.Mutable, rec, newRec *Record) error {
	pr := &passReader{r: src, size: f.size, hook: p.m.loc.readHook(rel)}
	data, err := io.ReadAll(io.NewSectionReader(pr, 0, f.size))
	if err != nil {
		return err
	}
	if int64(len(data)) != f.size {
		p.mark(rel)
		return errChanged
	}
	if !p.unchanged(rel, f, pr) {
		return errChanged
	}
	if newRec.SHA256 = pr.sum(); newRec.SHA256 == rec.SHA256 {
		return errTouched
	}
	return p.rewriteMutable(ctx, rel, mc, rec, data, newRec)
}

// linkFile stores data (or reuses the cap of a recorded file with the
// same contents) and links it at rel if the entry there is still base.
func (p *pusher) linkFile(ctx context.Context, rel, base string, data []byte, rec *Record) error {
	c := p.sameContents(rec.SHA256, int64(len(data)))
	if c == nil {
		res, err := p.p.Uploader.Upload(ctx, data)
		if err != nil {
			return err
		}
		c = res.Cap
	}
	return p.linkCap(ctx, rel, base, c, rec)
}

// linkCap links c at rel if the entry there is still base ("" for
// none; an entry removed meanwhile is linked again).
func (p *pusher) linkCap(ctx context.Context, rel, base string, c cap.Cap, rec *Record) error {
	child := dirop.ChildOf(c)
	rec.Cap = child.RO
	now := p.m.opts.Now()
	return p.p.Editor.Edit(ctx, p.root, splitPath(rel), true, func(ents []dirnode.Entry, name string) ([]dirnode.Entry, error) {
		for i, e := range ents {
			if e.Name != name {
				continue
			}
			switch e.ROCap {
			case child.RO:
				return nil, publish.ErrUnchanged // already there (a retry that landed)
			case base:
			default:
				if !p.p.Upload {
					return nil, errRemoteChanged
				}
			}
			ents[i] = dirnode.Entry{Name: name, RWCap: child.RW, ROCap: child.RO, Metadata: dirnode.NewMetadata(now)}
			return ents, nil
		}
		return append(ents, dirnode.Entry{Name: name, RWCap: child.RW, ROCap: child.RO, Metadata: dirnode.NewMetadata(now)}), nil
	})
}

// ProgressUpload is the size from which an upload's start and end are
// reported through Options.Progress.
const ProgressUpload = 1 << 20

// progress reports the start of a large upload and returns the report
// of its end.
func (p *pusher) progress(rel string, size int64) (done func()) {
	report := p.m.opts.Progress
	if report == nil || size < ProgressUpload {
		return func() {}
	}
	began := p.m.opts.Now()
	report(ProgressEvent{Type: Progress, Time: began, Files: 1, Bytes: size, ETASeconds: -1, Upload: rel})
	return func() {
		now := p.m.opts.Now()
		e := ProgressEvent{Type: Progress, Time: now, Files: 1, FilesDone: 1, Bytes: size, BytesDone: size, Done: true, Upload: rel}
		if secs := now.Sub(began).Seconds(); secs > 0 {
			e.Rate = float64(size) / secs
		}
		report(e)
	}
}

// sameContents returns the immutable cap of a recorded file with these
// contents, so a renamed or copied file is linked, not uploaded again.
func (p *pusher) sameContents(sum string, size int64) cap.Cap {
	var found cap.Cap
	p.m.st.withSum(sum, func(r *Record) bool {
		if r.Size != size || r.Conflict {
			return false
		}
		c, err := cap.Parse(r.Cap)
		if err != nil || c.IsMutable() || c.IsDir() {
			return false
		}
		found = c
		return true
	})
	return found
}

// mutableAt returns the read cap of the mutable file last synced at
// rec, if it was one.
func (p *pusher) mutableAt(rec *Record) (*cap.Mutable, bool) {
	if rec == nil || rec.Conflict {
		return nil, false
	}
	c, err := cap.Parse(rec.Cap)
	m, ok := c.(*cap.Mutable)
	return m, err == nil && ok && !m.Dir
}

// rewriteMutable publishes data as the next version of the mutable
// file at rel, if it still holds what was last synced; without its
// write cap in the directory, a CHK replaces the entry instead.
func (p *pusher) rewriteMutable(ctx context.Context, rel string, ro *cap.Mutable, rec *Record, data []byte, newRec *Record) error {
	dirPath := path.Dir(rel)
	if dirPath == "." {
		dirPath = ""
	}
	dir, err := p.m.remoteDir(ctx, dirPath, false)
	if err != nil {
		return err
	}
	ents, err := p.p.Editor.List(ctx, dir)
	if err != nil {
		return err
	}
	e, ok := dirnode.Find(ents, path.Base(rel))
	switch {
	case (!ok || e.ROCap != rec.Cap) && p.p.Upload:
		return p.linkFile(ctx, rel, rec.Cap, data, newRec)
	case !ok || e.ROCap != rec.Cap:
		return errRemoteChanged
	}
	wc, err := cap.Parse(e.RWCap)
	w, isMut := wc.(*cap.Mutable)
	if e.RWCap == "" || err != nil || !isMut || w.Access != cap.Write {
		return p.linkFile(ctx, rel, rec.Cap, data, newRec)
	}
	res, err := p.p.Editor.Pub.Modify(ctx, w, func(old []byte) ([]byte, error) {
		h := sha256.Sum256(old)
		switch hex.EncodeToString(h[:]) {
		case newRec.SHA256:
			return nil, publish.ErrUnchanged
		case rec.SHA256:
			return data, nil
		}
		if p.p.Upload {
			return data, nil
		}
		return nil, errRemoteChanged
	})
	if err != nil {
		return err
	}
	newRec.Cap = ro.String()
	if res != nil {
		newRec.Seqnum = res.Seqnum
	}
	return nil
}

// pushGone unlinks what was last synced at rel (a file, or the files
// recorded below a directory), unless the grid changed it since: then
// the grid's version comes back.
func (p *pusher) pushGone(ctx context.Context, s *session, rel string) error {
	recs := p.m.st.under(rel)
	var errs []error
	for _, rp := range recs {
		if f, err := p.m.loc.look(rp, false); err != nil || f.exists {
			continue // still (or again) there
		}
		errs = append(errs, p.unlinkFile(ctx, s, rp))
	}
	if len(recs) == 0 || recs[0] != rel {
		errs = append(errs, p.unlinkEmptyDir(ctx, s, rel))
	}
	return errors.Join(errs...)
}

// unlinkFile removes the entry of a file deleted locally.
func (p *pusher) unlinkFile(ctx context.Context, s *session, rel string) error {
	rec := p.m.st.get(rel)
	if rec == nil {
		return nil
	}
	err := p.p.Editor.Edit(ctx, p.root, splitPath(rel), false, func(ents []dirnode.Entry, name string) ([]dirnode.Entry, error) {
		e, ok := dirnode.Find(ents, name)
		switch {
		case !ok:
			return nil, publish.ErrUnchanged
		case e.ROCap != rec.Cap && !p.p.Upload:
			return nil, errRemoteChanged
		}
		return deleteEntry(ents, name), nil
	})
	switch {
	case errkind.KindOf(err) == errkind.NotFound:
		// a parent is gone: so is the entry
	case errors.Is(err, errRemoteChanged):
		p.m.log.Info("deleted here but changed on the grid; the grid's version comes back", "path", rel)
		s.forget(rel)
		return p.pull(ctx, s, rel)
	case err != nil:
		return err
	}
	s.forget(rel)
	s.report(Unlinked, rel, rec.Cap, rec.Seqnum, rec.Size, "")
	return nil
}

func deleteEntry(ents []dirnode.Entry, name string) []dirnode.Entry {
	out := ents[:0]
	for _, e := range ents {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// unlinkEmptyDir removes the entry rel if it is a directory that is
// empty on the grid: a directory removed locally. A directory another
// device put something in stays (and comes back here).
func (p *pusher) unlinkEmptyDir(ctx context.Context, s *session, rel string) error {
	if rel == "" {
		return nil
	}
	removed, kept := false, false
	err := p.p.Editor.Edit(ctx, p.root, splitPath(rel), false, func(ents []dirnode.Entry, name string) ([]dirnode.Entry, error) {
		removed, kept = false, false
		e, ok := dirnode.Find(ents, name)
		if !ok {
			return nil, publish.ErrUnchanged
		}
		c, err := cap.Parse(e.RWCap)
		d, isDir := c.(*cap.Mutable)
		if err != nil || !isDir || !d.Dir || d.Access != cap.Write {
			return nil, publish.ErrUnchanged // a file, or not ours to empty
		}
		empty, err := p.emptyTree(ctx, d, 0)
		if err != nil {
			return nil, err
		}
		if !empty {
			kept = true
			return nil, publish.ErrUnchanged
		}
		removed = true
		return deleteEntry(ents, name), nil
	})
	switch {
	case errkind.KindOf(err) == errkind.NotFound:
		return nil
	case err != nil:
		return err
	case removed:
		s.report(Unlinked, rel, "", 0, 0, "directory")
	case kept && !p.p.Upload:
		return p.pull(ctx, s, rel) // files another device put there come back
	}
	return nil
}

// emptyTree reports whether the directory c holds no file at any depth
// (only directories, as a local rm -r of empty ones leaves on the grid).
func (p *pusher) emptyTree(ctx context.Context, c cap.Cap, depth int) (bool, error) {
	if depth > 64 {
		return false, nil // deep enough to be a cycle: not ours to remove
	}
	ents, err := p.m.r.ReadDir(ctx, c.ReadOnly())
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		k, err := cap.Parse(e.ROCap)
		if err != nil || !k.IsDir() {
			return false, nil
		}
		if empty, err := p.emptyTree(ctx, k, depth+1); err != nil || !empty {
			return false, err
		}
	}
	return true, nil
}

// pull reconciles rel from the grid after a local change lost a race:
// place and remove keep both versions.
func (p *pusher) pull(ctx context.Context, s *session, rel string) error {
	c, err := s.resolve(ctx, rel)
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.reconcile(ctx, rel, c)
}

// conflictCopy is the name this device's version of rel gets when the
// grid's version keeps rel: NAME.conflict-DEVICE-TIME (a name too long
// for that is shortened, see withMarker). The device that
// lost the race names the copy and uploads it, so every replica ends up
// with the same one.
func (p *pusher) conflictCopy(rel string) string {
	return withMarker(rel, fmt.Sprintf(".conflict-%s-%s", p.p.Device, p.m.opts.Now().UTC().Format("20060102T150405.000Z")))
}

package mirror

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// local is LOCALDIR, every access confined to it by an os.Root, which
// refuses paths and symlinks that lead outside. Symlinks inside are not
// followed either: parents are checked with Lstat and files are opened
// with O_NOFOLLOW.
type local struct {
	dir      string
	root     *os.Root
	foldCase bool             // the file system folds case: "A" and "a" are one name
	hashed   func(rel string) // tests: called for each file hashed
	// read, in tests, is called after each read of a file being
	// uploaded, with the offset and length read.
	read func(rel string, off int64, n int)
}

// readHook returns the test hook for reads of rel, or nil.
func (l *local) readHook(rel string) func(off int64, n int) {
	if l.read == nil {
		return nil
	}
	return func(off int64, n int) { l.read(rel, off, n) }
}

var errNotDir = errors.New("a parent is not a directory (or is a symlink)")

func openLocal(dir string) (*local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &local{dir: dir, root: root, foldCase: foldsCase(dir)}, nil
}

// foldsCase reports whether dir's file system is case-insensitive.
func foldsCase(dir string) bool {
	f, err := os.CreateTemp(dir, tmpPrefix+"CASE")
	if err != nil {
		return false
	}
	f.Close()
	defer os.Remove(f.Name())
	_, err = os.Lstat(filepath.Join(dir, strings.ToLower(filepath.Base(f.Name()))))
	return err == nil
}

func (l *local) close() error { return l.root.Close() }

func native(rel string) string { return filepath.FromSlash(rel) }

// mkdirs makes rel and its parents real directories, refusing to go
// through a symlink or a file.
func (l *local) mkdirs(rel string) error {
	if rel == "" || rel == "." {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(rel, "/") {
		cur = path.Join(cur, part)
		fi, err := l.root.Lstat(native(cur))
		if errors.Is(err, fs.ErrNotExist) {
			if err = l.root.Mkdir(native(cur), 0o755); err == nil || errors.Is(err, fs.ErrExist) {
				fi, err = l.root.Lstat(native(cur))
			}
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", cur, errNotDir)
		}
	}
	return nil
}

// parentsOK reports whether every parent of rel is a real directory (a
// missing one is reported as fs.ErrNotExist).
func (l *local) parentsOK(rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		fi, err := l.root.Lstat(native(cur))
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", cur, errNotDir)
		}
	}
	return nil
}

// found is what is at a local path now.
type found struct {
	exists  bool
	regular bool // a regular file (not a symlink, directory or device)
	dir     bool // a directory (not a symlink to one)
	size    int64
	mtime   int64
	sha256  string // set by look when asked to hash a regular file
}

// look describes rel without following a symlink; with hash it also
// hashes a regular file's contents.
func (l *local) look(rel string, hash bool) (found, error) {
	if err := l.parentsOK(rel); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return found{}, nil
		}
		return found{}, err
	}
	fi, err := l.root.Lstat(native(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return found{}, nil
	}
	if err != nil {
		return found{}, err
	}
	f := found{exists: true, regular: fi.Mode().IsRegular(), dir: fi.IsDir(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if !hash || !f.regular {
		return f, nil
	}
	if l.hashed != nil {
		l.hashed(rel)
	}
	r, err := l.root.OpenFile(native(rel), os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return f, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return f, err
	}
	f.sha256 = hex.EncodeToString(h.Sum(nil))
	return f, nil
}

// matches reports whether f is what rec says was written: same size and
// mtime, or, if hashed, the same contents.
func (f found) matches(rec *Record) bool {
	if rec == nil || !f.regular || f.size != rec.Size {
		return false
	}
	if f.sha256 != "" {
		return f.sha256 == rec.SHA256
	}
	return f.mtime == rec.MTime
}

// still reports whether rel is as f found it (size and mtime), checked
// again just before a replace or delete, so an edit made while f was
// being hashed is not lost.
func (l *local) still(rel string, f found) bool {
	now, err := l.look(rel, false)
	return err == nil && now.exists == f.exists && now.size == f.size && now.mtime == f.mtime
}

// temp is a complete download waiting to be renamed into place.
type temp struct {
	name   string // slash path below LOCALDIR
	sha256 string
	size   int64
}

// writeTemp streams fill into a new temporary file beside rel and syncs
// it. On error the temporary file is gone.
func (l *local) writeTemp(rel string, fill func(io.Writer) error) (*temp, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := path.Join(path.Dir(rel), tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := l.root.OpenFile(native(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, 0o644)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = fill(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.root.Remove(native(name))
		return nil, err
	}
	return &temp{name: name, sha256: hex.EncodeToString(h.Sum(nil)), size: cw.n}, nil
}

// install renames t to rel, syncs the directory and returns what is now
// at rel.
func (l *local) install(t *temp, rel string) (found, error) {
	if err := l.root.Rename(native(t.name), native(rel)); err != nil {
		l.root.Remove(native(t.name))
		return found{}, err
	}
	l.syncDir(path.Dir(rel))
	return l.look(rel, false)
}

func (l *local) discard(t *temp) { l.root.Remove(native(t.name)) }

func (l *local) syncDir(rel string) {
	if d, err := l.root.Open(native(rel)); err == nil {
		d.Sync()
		d.Close()
	}
}

// remove deletes the file rel and then each parent below stop that is
// empty and not wanted.
func (l *local) remove(rel string) error {
	if err := l.root.Remove(native(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	l.syncDir(path.Dir(rel))
	return nil
}

// prune removes rel and its parents up to (not including) stop while
// they are empty directories and keep says they are not wanted.
func (l *local) prune(rel, stop string, keep func(string) bool) {
	for rel != "." && rel != "" && rel != stop && !keep(rel) {
		fi, err := l.root.Lstat(native(rel))
		if err != nil || !fi.IsDir() || l.root.Remove(native(rel)) != nil {
			return
		}
		rel = path.Dir(rel)
	}
}

// removeEmptyDirs removes the directory rel and every directory below
// it that is (then) empty, deepest first; files and symlinks stay, and
// so do the directories holding them.
func (l *local) removeEmptyDirs(rel string) {
	fi, err := l.root.Lstat(native(rel))
	if err != nil || !fi.IsDir() || l.parentsOK(rel) != nil {
		return
	}
	var dirs []string
	fs.WalkDir(l.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		l.root.Remove(native(dirs[i]))
	}
}

// cleanTemps deletes the temporary files an interrupted run left.
func (l *local) cleanTemps() error {
	return fs.WalkDir(l.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tmpPrefix) {
			l.root.Remove(native(p))
		}
		return nil
	})
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

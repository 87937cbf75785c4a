// Package dirop edits Tahoe-LAFS mutable directories: link, unlink and
// make directories along a path. Every edit is a read-modify-write of the
// directory's mutable file through publish.Modify, so two editors of one
// directory never lose each other's entries: the one whose write is
// beaten re-reads and applies its edit again, or fails loudly.
package dirop

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"slices"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// Editor edits directories on one grid.
type Editor struct {
	Pub *publish.Publisher
	// New are the parameters of directories the editor creates.
	New publish.Params
	// NewKey returns the signing key of a new directory; nil means
	// rsakey.Generate.
	NewKey func() (*rsa.PrivateKey, error)
	// Now stamps link times; nil means time.Now.
	Now func() time.Time
}

// Child is what a directory entry points at.
type Child struct {
	RW string // write cap, or "" for read-only children
	RO string // read cap
}

// ChildOf returns the entry caps of c.
func ChildOf(c cap.Cap) Child {
	if c.IsReadOnly() {
		return Child{RO: c.String()}
	}
	return Child{RW: c.String(), RO: c.ReadOnly().String()}
}

func (e *Editor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Mkdir creates a new, empty directory and returns its write cap.
func (e *Editor) Mkdir(ctx context.Context) (*cap.Mutable, error) {
	const op = "dirop.Mkdir"
	newKey := e.NewKey
	if newKey == nil {
		newKey = rsakey.Generate
	}
	priv, err := newKey()
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	prm := e.New
	prm.Dir = true
	c := cap.NewMutable(prm.Format, true, priv)
	empty, err := dirnode.Pack(nil, c.Writekey)
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	res, err := e.Pub.Create(ctx, priv, empty, prm)
	if err != nil {
		return nil, err
	}
	return res.Cap, nil
}

// writable checks that c is a directory write cap.
func writable(op string, c cap.Cap) (*cap.Mutable, error) {
	m, ok := c.(*cap.Mutable)
	if !ok || !m.Dir {
		return nil, errkind.E(op, errkind.Usage, "%s is not a mutable directory", cap.Abbrev(c))
	}
	if m.Access != cap.Write {
		return nil, errkind.E(op, errkind.Usage, "%s is read-only", cap.Abbrev(c))
	}
	return m, nil
}

// List reads the entries of directory c.
func (e *Editor) List(ctx context.Context, c *cap.Mutable) ([]dirnode.Entry, error) {
	b, _, _, err := e.Pub.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return dirnode.Parse(b, c.Writekey)
}

// Dir returns the directory at path below root, creating missing ones
// when create is set (mkdir -p). If another editor links the same name
// first, its directory is used.
func (e *Editor) Dir(ctx context.Context, root cap.Cap, path []string, create bool) (*cap.Mutable, error) {
	const op = "dirop.Dir"
	cur, err := writable(op, root)
	if err != nil {
		return nil, err
	}
	for i, name := range path {
		entries, err := e.List(ctx, cur)
		if err != nil {
			return nil, err
		}
		ent, ok := dirnode.Find(entries, name)
		if !ok {
			if !create {
				return nil, errkind.E(op, errkind.NotFound, "no entry %q", joinPath(path[:i+1]))
			}
			if ent, err = e.mkdirIn(ctx, cur, name); err != nil {
				return nil, err
			}
		}
		next, err := cap.Parse(ent.RWCap)
		if ent.RWCap == "" || err != nil {
			return nil, errkind.E(op, errkind.Usage, "%q is not a writable directory", joinPath(path[:i+1]))
		}
		if cur, err = writable(op, next); err != nil {
			return nil, errkind.E(op, errkind.Usage, "%q is not a writable directory", joinPath(path[:i+1]))
		}
	}
	return cur, nil
}

// mkdirIn makes a directory and links it as name in dir, unless name
// appears first; it returns the entry name ends up with. The directory
// has to exist before its cap is linked (readers must never find a
// dangling entry), so an editor that loses the race has made one for
// nothing: it deletes it again. If that fails (a server down), the
// orphan's shares, whose cap nobody else ever saw, stay until their
// leases expire.
func (e *Editor) mkdirIn(ctx context.Context, dir *cap.Mutable, name string) (dirnode.Entry, error) {
	sub, err := e.Mkdir(ctx)
	if err != nil {
		return dirnode.Entry{}, err
	}
	mine := ChildOf(sub)
	var got dirnode.Entry
	_, err = e.Pub.Modify(ctx, dir, func(old []byte) ([]byte, error) {
		d, err := dirnode.ParseDir(old, dir.Writekey)
		if err != nil {
			return nil, err
		}
		if ent, ok := dirnode.Find(d.Entries, name); ok {
			got = ent
			return nil, publish.ErrUnchanged
		}
		got = dirnode.Entry{Name: name, RWCap: mine.RW, ROCap: mine.RO, Metadata: dirnode.NewMetadata(e.now())}
		d.Entries = append(d.Entries, got)
		return dirnode.PackDir(d, dir.Writekey)
	})
	if err == nil && got.RWCap != mine.RW {
		e.Pub.Delete(ctx, sub) // best effort, as documented above
	}
	return got, err
}

// editEntries finds the directory holding the last element of path below
// root (creating missing parents when parents is set) and applies edit
// to its entries in a read-modify-write. edit gets the parsed directory
// and the name; returning publish.ErrUnchanged leaves the directory as it
// is.
// Entries that cannot be used (dirnode.Unusable: another writer's, maybe
// hostile) are written back byte for byte, whatever edit does.
func (e *Editor) editEntries(ctx context.Context, op string, root cap.Cap, path []string, parents bool,
	edit func(d *dirnode.Dir, name string) error) error {
	if len(path) == 0 {
		return errkind.E(op, errkind.Usage, "no entry named: give DIRCAP/path/name")
	}
	dir, err := e.Dir(ctx, root, path[:len(path)-1], parents)
	if err != nil {
		return err
	}
	name := path[len(path)-1]
	_, err = e.Pub.Modify(ctx, dir, func(old []byte) ([]byte, error) {
		d, err := dirnode.ParseDir(old, dir.Writekey)
		if err != nil {
			return nil, err
		}
		if err := edit(d, name); err != nil {
			return nil, err
		}
		if _, ok := dirnode.Find(d.Entries, name); ok {
			// The edit put a usable entry under name: an unusable one of
			// the same name goes, or Tahoe, where the later of two
			// entries of one name wins, could read it instead.
			d.Unusable = slices.DeleteFunc(d.Unusable, func(u dirnode.Unusable) bool { return u.Name == name })
		}
		return dirnode.PackDir(d, dir.Writekey)
	})
	return err
}

// Link links child as the last element of path below root, creating
// missing parents when parents is set. An existing entry of that name is
// replaced only when replace is set; otherwise Link fails with Conflict.
func (e *Editor) Link(ctx context.Context, root cap.Cap, path []string, child Child, parents, replace bool) error {
	const op = "dirop.Link"
	return e.editEntries(ctx, op, root, path, parents, func(d *dirnode.Dir, name string) error {
		ent := dirnode.Entry{Name: name, RWCap: child.RW, ROCap: child.RO, Metadata: dirnode.NewMetadata(e.now())}
		for i, old := range d.Entries {
			if old.Name != ent.Name {
				continue
			}
			if old.RWCap == child.RW && old.ROCap == child.RO {
				return publish.ErrUnchanged // a retry of a write that landed
			}
			if !replace {
				return errkind.E(op, errkind.Conflict, "%q already exists", joinPath(path))
			}
			ent.Metadata = relinked(old.Metadata, ent.Metadata)
			d.Entries[i] = ent
			return nil
		}
		d.Entries = append(d.Entries, ent)
		return nil
	})
}

// Unlink removes the entry at path below root. Without a usable entry of
// that name, it removes the unusable entries that bear exactly that name
// (a damaged or hostile entry, which is how a writer repairs a
// directory); unusable entries of other names stay as they are. A
// missing entry is an error of kind NotFound.
func (e *Editor) Unlink(ctx context.Context, root cap.Cap, path []string) error {
	const op = "dirop.Unlink"
	return e.editEntries(ctx, op, root, path, false, func(d *dirnode.Dir, name string) error {
		if target, ok := dirnode.Find(d.Entries, name); ok {
			d.Entries = slices.DeleteFunc(d.Entries, func(ent dirnode.Entry) bool { return ent.Name == target.Name })
			return nil
		}
		n := len(d.Unusable)
		d.Unusable = slices.DeleteFunc(d.Unusable, func(u dirnode.Unusable) bool { return u.Name == name })
		if len(d.Unusable) == n {
			return errkind.E(op, errkind.NotFound, "no entry %q", joinPath(path))
		}
		return nil
	})
}

// relinked is the metadata of a replaced entry, as Tahoe keeps it: the
// old metadata with tahoe.linkmotime from fresh (the new link's) and
// tahoe.linkcrtime kept from the first link.
func relinked(old, fresh json.RawMessage) json.RawMessage {
	var o, f map[string]json.RawMessage
	if json.Unmarshal(old, &o) != nil || o == nil || json.Unmarshal(fresh, &f) != nil {
		return fresh
	}
	var ot, ft map[string]json.RawMessage
	json.Unmarshal(o["tahoe"], &ot)
	if json.Unmarshal(f["tahoe"], &ft) != nil || ft == nil {
		return fresh
	}
	if cr, ok := ot["linkcrtime"]; ok {
		ft["linkcrtime"] = cr
	}
	tb, err := json.Marshal(ft)
	if err != nil {
		return fresh
	}
	o["tahoe"] = tb
	b, err := json.Marshal(o)
	if err != nil {
		return fresh
	}
	return b
}

func joinPath(p []string) string {
	s := ""
	for i, e := range p {
		if i > 0 {
			s += "/"
		}
		s += e
	}
	return s
}

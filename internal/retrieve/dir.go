package retrieve

import (
	"bytes"
	"context"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

// maxDirSize bounds the contents of a directory read into memory.
const maxDirSize = 64 << 20

// ReadDir reads and parses the directory c names. With a write cap the
// children's write caps are decrypted too; with a read cap they are "".
// Entries that cannot be used are left out; ReadDirAll returns them too.
func (r *Reader) ReadDir(ctx context.Context, c cap.Cap) ([]dirnode.Entry, error) {
	d, err := r.ReadDirAll(ctx, c)
	if err != nil {
		return nil, err
	}
	return d.Entries, nil
}

// ReadDirAll is ReadDir returning the entries that cannot be used as
// well (dirnode.Unusable), for readers to warn about them. Only broken
// framing makes the directory an error.
func (r *Reader) ReadDirAll(ctx context.Context, c cap.Cap) (*dirnode.Dir, error) {
	const op = "retrieve.ReadDir"
	if !c.IsDir() {
		return nil, errkind.E(op, errkind.Usage, "%s is not a directory", cap.Abbrev(c))
	}
	var buf limitedBuffer
	if _, err := r.Cat(ctx, &buf, c); err != nil {
		return nil, err
	}
	switch c := c.(type) {
	case *cap.Mutable:
		return dirnode.ParseDir(buf.Bytes(), c.Writekey)
	default:
		return dirnode.ParseDirImmutable(buf.Bytes())
	}
}

// Resolve follows path from directory c and returns the cap of the
// entry it names: the child's write cap when c gave write access and the
// child has one, else its read cap. An empty path returns c.
func (r *Reader) Resolve(ctx context.Context, c cap.Cap, path []string) (cap.Cap, error) {
	return r.ResolveSkipping(ctx, c, path, nil)
}

// ResolveSkipping is Resolve, calling skipped (unless nil) with each
// entry that cannot be used in the directories it passes through, dir
// being that directory's path below c ("" for c itself). A path through
// an unusable entry fails with errkind.Invalid saying why.
func (r *Reader) ResolveSkipping(ctx context.Context, c cap.Cap, path []string, skipped func(dir string, u dirnode.Unusable)) (cap.Cap, error) {
	const op = "retrieve.Resolve"
	for i, name := range path {
		if !c.IsDir() {
			if i == 0 { // CAP/x with a file cap: name the cap, not an empty path
				return nil, errkind.E(op, errkind.Usage, "%s is a file, not a directory: it has no entry %q", cap.Abbrev(c), name)
			}
			return nil, errkind.E(op, errkind.Usage, "%s is a file, not a directory: it has no entry %q", strings.Join(path[:i], "/"), name)
		}
		d, err := r.ReadDirAll(ctx, c)
		if err != nil {
			return nil, err
		}
		if skipped != nil {
			for _, u := range d.Unusable {
				skipped(strings.Join(path[:i], "/"), u)
			}
		}
		e, ok := dirnode.Find(d.Entries, name)
		if !ok {
			return nil, notFound(op, d.Unusable, name, path[:i])
		}
		if c, err = ChildCap(e); err != nil {
			return nil, errkind.E(op, errkind.KindOf(err), "entry %q: %w", strings.Join(path[:i+1], "/"), err)
		}
	}
	return c, nil
}

// notFound explains why name is not in a directory: absent, or there
// but unusable.
func notFound(op string, unusable []dirnode.Unusable, name string, dir []string) error {
	for _, u := range unusable {
		if u.Name == name {
			return errkind.E(op, errkind.Invalid, "entry %q in %s cannot be used: %s", name, dirName(dir), u.Reason)
		}
	}
	return errkind.E(op, errkind.NotFound, "no entry %q in %s", name, dirName(dir))
}

// ChildCap parses the most powerful cap of a directory entry.
func ChildCap(e dirnode.Entry) (cap.Cap, error) {
	s := e.RWCap
	if s == "" {
		s = e.ROCap
	}
	if s == "" {
		return nil, errkind.E("retrieve.ChildCap", errkind.Invalid, "entry %q has no cap", e.Name)
	}
	c, err := cap.Parse(s)
	if err != nil {
		return nil, errkind.E("retrieve.ChildCap", errkind.Invalid, "entry %q has a cap of unknown kind", e.Name)
	}
	return c, nil
}

func dirName(path []string) string {
	if len(path) == 0 {
		return "the directory"
	}
	return strings.Join(path, "/")
}

// limitedBuffer is a bytes.Buffer that refuses to grow past maxDirSize.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxDirSize {
		return 0, errkind.E("retrieve.ReadDir", errkind.Invalid, "directory larger than %d bytes", maxDirSize)
	}
	return b.Buffer.Write(p)
}

package watcher_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

func TestRecursiveDirectoryEvents(t *testing.T) {
	ctx := context.Background()
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	ed := &dirop.Editor{Pub: p, New: demo.Params}
	root, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := create(t, p, false, []byte("deep file"))
	if err := ed.Link(ctx, root, []string{"a", "b", "f.txt"}, dirop.ChildOf(f), true, false); err != nil {
		t.Fatal(err)
	}
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Recursive: true}, root)
	if n := len(w.Status().Caps); n != 4 {
		t.Fatalf("watching %d mutables, want 4 (root, a, a/b, a/b/f.txt)", n)
	}
	expect := func(typ events.Type, path string) events.Event {
		t.Helper()
		e := next(t, ch, 20*time.Second)
		if e.Type != typ || e.Path != path {
			t.Fatalf("event %s %q, want %s %q", e.Type, e.Path, typ, path)
		}
		if strings.HasPrefix(e.Cap, "URI:SSK:") || strings.HasPrefix(e.Cap, "URI:DIR2:") {
			t.Fatalf("event carries a write cap")
		}
		return e
	}
	// Modify a file two levels down.
	put(t, p, f, []byte("changed"))
	e := expect(events.Changed, "a/b/f.txt")
	if e.Cap != f.ReadOnly().String() || e.Root != root.ReadOnly().String() {
		t.Errorf("cap/root %s %s", e.Cap, e.Root)
	}
	// Add an entry two levels down.
	lit := &cap.LIT{Data: []byte("hello")}
	if err := ed.Link(ctx, root, []string{"a", "b", "new.txt"}, dirop.ChildOf(lit), false, false); err != nil {
		t.Fatal(err)
	}
	e = expect(events.Added, "a/b/new.txt")
	if e.Cap != lit.String() {
		t.Errorf("added cap %s", e.Cap)
	}
	// Replace it: modified.
	lit2 := &cap.LIT{Data: []byte("bye")}
	if err := ed.Link(ctx, root, []string{"a", "b", "new.txt"}, dirop.ChildOf(lit2), false, true); err != nil {
		t.Fatal(err)
	}
	expect(events.Modified, "a/b/new.txt")
	// Add a new subdirectory, then a file in it: both are then watched.
	c, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ed.Link(ctx, root, []string{"a", "c"}, dirop.ChildOf(c), false, false); err != nil {
		t.Fatal(err)
	}
	expect(events.Added, "a/c")
	g2 := create(t, p, false, []byte("in c"))
	if err := ed.Link(ctx, root, []string{"a", "c", "g.txt"}, dirop.ChildOf(g2), false, false); err != nil {
		t.Fatal(err)
	}
	expect(events.Added, "a/c/g.txt")
	put(t, p, g2, []byte("in c, changed"))
	expect(events.Changed, "a/c/g.txt")
	// Link a directory that already holds a file: both are reported.
	d, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ed.Link(ctx, d, []string{"h.txt"}, dirop.ChildOf(&cap.LIT{Data: []byte("h")}), false, false); err != nil {
		t.Fatal(err)
	}
	if err := ed.Link(ctx, root, []string{"a", "d"}, dirop.ChildOf(d), false, false); err != nil {
		t.Fatal(err)
	}
	expect(events.Added, "a/d")
	expect(events.Added, "a/d/h.txt")
	// Remove the deep file: removed, and no longer watched.
	if err := ed.Unlink(ctx, root, []string{"a", "b", "f.txt"}); err != nil {
		t.Fatal(err)
	}
	expect(events.Removed, "a/b/f.txt")
	put(t, p, f, []byte("unwatched now"))
	quiet(t, ch, time.Second)
	for _, c := range w.Status().Caps {
		if c.Path == "a/b/f.txt" {
			t.Error("a removed file is still watched")
		}
	}
}

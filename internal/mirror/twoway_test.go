package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror/mirrortest"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// replica is one device of a two-way synced folder.
type replica struct {
	t    testing.TB
	q    time.Duration // quiet period
	w    *world
	root *cap.Mutable
	name string
	dir  string
	ign  []string
	up   bool // Push.Upload: a one-way backup
	rec  *recorder
	stop func()
}

// newReplica starts two-way sync of root into a new directory.
func (w *world) replica(t testing.TB, root *cap.Mutable, name string, ignore ...string) *replica {
	r := &replica{t: t, w: w, root: root, name: name, dir: filepath.Join(t.TempDir(), name), ign: ignore, q: 50 * time.Millisecond}
	if _, ok := t.(*testing.B); ok {
		r.q = mirror.DefaultQuiet // benchmarks measure the default
	}
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *replica) start() {
	r.t.Helper()
	m, err := mirror.Open(r.root, r.dir, mirror.Options{Grid: r.w.g, Logger: quiet(),
		Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour},
		Push:  &mirror.Push{Editor: r.w.ed, Uploader: r.w.up, Device: r.name, Quiet: r.q, Ignore: r.ign, Upload: r.up}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.rec = &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, r.rec.emit) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Error(err)
		}
		m.Close()
		r.stop = func() {}
	}
}

func (r *replica) path(p string) string { return filepath.Join(r.dir, filepath.FromSlash(p)) }

func (r *replica) write(p, data string) {
	r.t.Helper()
	mirrortest.WriteFile(r.t, r.dir, p, data)
}

// converge waits until every replica's tree is the same and cond holds
// for it.
func converge(t *testing.T, what string, cond func(map[string]string) bool, rs ...*replica) map[string]string {
	t.Helper()
	deadline := time.Now().Add(generous)
	for {
		first := mirrortest.Tree(rs[0].dir)
		same := cond == nil || cond(first)
		for _, r := range rs[1:] {
			same = same && maps.Equal(first, mirrortest.Tree(r.dir))
		}
		if same {
			return first
		}
		if time.Now().After(deadline) {
			for _, r := range rs {
				t.Logf("%s:\n  %s", r.name, mirrortest.Describe(mirrortest.Tree(r.dir)))
				for _, e := range r.rec.evs {
					t.Logf("%s event %s %q %s", r.name, e.Type, e.Path, e.Message)
				}
			}
			t.Fatalf("%s: replicas did not converge", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func has(want map[string]string) func(map[string]string) bool {
	return func(got map[string]string) bool {
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
}

func lacks(paths ...string) func(map[string]string) bool {
	return func(got map[string]string) bool {
		for _, p := range paths {
			if _, ok := got[p]; ok {
				return false
			}
		}
		return true
	}
}

func both(a, b func(map[string]string) bool) func(map[string]string) bool {
	return func(m map[string]string) bool { return a(m) && b(m) }
}

// gridNames lists the names in the directory at p on the grid.
func (w *world) gridNames(t *testing.T, root *cap.Mutable, p string) []string {
	t.Helper()
	var parts []string
	if p != "" {
		parts = strings.Split(p, "/")
	}
	d, err := w.ed.Dir(context.Background(), root, parts, false)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := w.ed.List(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// TestTwoWayLocalToGrid: create, edit, nested mkdir, a 5 MiB file,
// delete and rename on replica A reach replica B through the grid, and
// ignored paths stay on A.
func TestTwoWayLocalToGrid(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	w.link(t, root, "old.txt", w.upload(t, []byte("already on the grid"+strings.Repeat(".", 100))))
	a := w.replica(t, root, "a", "*.tmp")
	if err := os.WriteFile(a.path(mirror.IgnoreFile), []byte("# build output\nbuild\n/secret/*.key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.stop() // the ignore file is read on start
	a.start()
	b := w.replica(t, root, "b")
	converge(t, "first mirror", has(map[string]string{"old.txt": "already on the grid" + strings.Repeat(".", 100)}), a, b)

	a.write("hello.txt", "hello")
	converge(t, "create", has(map[string]string{"hello.txt": "hello"}), b)
	a.write("hello.txt", "hello, world, edited and long enough for a CHK file"+strings.Repeat("!", 60))
	converge(t, "edit", has(map[string]string{"hello.txt": "hello, world, edited and long enough for a CHK file" + strings.Repeat("!", 60)}), b)
	a.write("d1/d2/d3/deep.txt", "deep")
	if err := os.MkdirAll(a.path("empty/inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	converge(t, "nested mkdir", has(map[string]string{"d1/d2/d3/deep.txt": "deep", "empty/inner": "/"}), b)
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	big[12345] = 'X'
	a.write("big.bin", string(big))
	converge(t, "5 MiB file", has(map[string]string{"big.bin": string(big)}), b)
	if err := os.Remove(a.path("old.txt")); err != nil {
		t.Fatal(err)
	}
	converge(t, "delete", lacks("old.txt"), b)
	if err := os.Rename(a.path("d1/d2/d3/deep.txt"), a.path("d1/moved.txt")); err != nil {
		t.Fatal(err)
	}
	converge(t, "rename", both(has(map[string]string{"d1/moved.txt": "deep"}), lacks("d1/d2/d3/deep.txt")), b)
	if err := os.RemoveAll(a.path("empty")); err != nil {
		t.Fatal(err)
	}
	converge(t, "remove a directory", lacks("empty", "empty/inner"), b)

	a.write("scratch.tmp", "ignored by flag")
	a.write("build/out.o", "ignored by file")
	a.write("secret/id.key", "ignored by a rooted pattern")
	a.write("secret/readme", "not ignored")
	converge(t, "ignore patterns", has(map[string]string{"secret/readme": "not ignored"}), b)
	time.Sleep(300 * time.Millisecond) // past the quiet period of what came first
	got := mirrortest.Tree(b.dir)
	for _, p := range []string{"scratch.tmp", "build", "build/out.o", "secret/id.key"} {
		if _, ok := got[p]; ok {
			t.Errorf("%s reached the other replica", p)
		}
	}
	names := strings.Join(w.gridNames(t, root, ""), " ")
	if names != "big.bin d1 hello.txt secret" {
		t.Errorf("on the grid: %s", names)
	}
	if n := len(a.rec.of(mirror.Uploaded)); n < 5 {
		t.Errorf("%d uploaded events", n)
	}
	noTemps(t, a.dir)
	noTemps(t, b.dir)
}

// TestTwoWayConcurrentEdit: one file edited on two replicas at once:
// both versions survive, on both, under the same names.
func TestTwoWayConcurrentEdit(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	w.link(t, root, "f.txt", w.upload(t, []byte("base version"+strings.Repeat(".", 100))))
	a, b := w.replica(t, root, "a"), w.replica(t, root, "b")
	converge(t, "first mirror", has(map[string]string{"f.txt": "base version" + strings.Repeat(".", 100)}), a, b)
	for round := range 3 {
		va, vb := fmt.Sprintf("edited on a, round %d", round), fmt.Sprintf("edited on b, round %d", round)
		a.write("f.txt", va)
		b.write("f.txt", vb)
		final := converge(t, "concurrent edit", func(m map[string]string) bool {
			seen := map[string]bool{}
			for p, v := range m {
				if p == "f.txt" || strings.HasPrefix(p, "f.txt.conflict-") {
					seen[v] = true
				}
			}
			return seen[va] && seen[vb]
		}, a, b)
		if final["f.txt"] != va && final["f.txt"] != vb {
			t.Errorf("round %d: f.txt holds %q", round, final["f.txt"])
		}
	}
	if len(a.rec.of(mirror.Conflict))+len(b.rec.of(mirror.Conflict)) < 3 {
		t.Error("fewer conflict events than conflicts")
	}
}

// TestTwoWayRemoteDeleteVsLocalEdit: a file deleted on one replica while
// edited on the other is kept, with the edit, on both.
func TestTwoWayRemoteDeleteVsLocalEdit(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	w.link(t, root, "f.txt", w.upload(t, []byte("base")))
	w.link(t, root, "g.txt", w.upload(t, []byte("base g")))
	a, b := w.replica(t, root, "a"), w.replica(t, root, "b")
	converge(t, "first mirror", has(map[string]string{"f.txt": "base", "g.txt": "base g"}), a, b)
	// At once: either may reach the grid first.
	os.Remove(a.path("f.txt"))
	b.write("f.txt", "edited on b")
	converge(t, "delete vs edit, at once", has(map[string]string{"f.txt": "edited on b"}), a, b)
	// The delete first: b's edit is made before b hears of it.
	b.stop()
	os.Remove(a.path("g.txt"))
	waitFor(t, generous, "the delete on the grid", func() bool { return !strings.Contains(strings.Join(w.gridNames(t, root, ""), " "), "g.txt") })
	b.write("g.txt", "edited on b while offline")
	b.start()
	converge(t, "delete, then an edit", has(map[string]string{"g.txt": "edited on b while offline"}), a, b)
}

// TestTwoWayOfflineEdits: edits made while sync was not running are
// reconciled against the journal on the next start: new, changed and
// deleted files go up, a file also changed remotely keeps both versions.
func TestTwoWayOfflineEdits(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	for _, n := range []string{"keep", "edit", "del", "both"} {
		w.link(t, root, n+".txt", w.upload(t, []byte("base of "+n)))
	}
	a, b := w.replica(t, root, "a"), w.replica(t, root, "b")
	a.write("sub/deep/del.txt", "base of deep del")
	a.write("sub/deep/keep.txt", "base of deep keep")
	converge(t, "first mirror", has(map[string]string{"keep.txt": "base of keep", "both.txt": "base of both",
		"sub/deep/del.txt": "base of deep del", "sub/deep/keep.txt": "base of deep keep"}), a, b)
	a.stop()
	os.Remove(a.path("sub/deep/del.txt"))
	a.write("edit.txt", "edited offline")
	a.write("new/new.txt", "made offline")
	os.Remove(a.path("del.txt"))
	a.write("both.txt", "a's offline edit")
	b.write("both.txt", "b's edit")
	converge(t, "b's edit on the grid", func(map[string]string) bool {
		return len(b.rec.of(mirror.Uploaded)) > 0
	}, b)
	a.start()
	final := converge(t, "offline edits", both(has(map[string]string{
		"keep.txt": "base of keep", "edit.txt": "edited offline", "new/new.txt": "made offline", "both.txt": "b's edit",
		"sub/deep/keep.txt": "base of deep keep",
	}), lacks("del.txt", "sub/deep/del.txt")), a, b)
	kept := false
	for p, v := range final {
		kept = kept || strings.HasPrefix(p, "both.txt.conflict-a-") && v == "a's offline edit"
	}
	if !kept {
		t.Errorf("a's offline edit of both.txt lost:\n  %s", mirrortest.Describe(final))
	}
}

// TestTwoWayKeepsMutable: a local edit of a file that is a mutable on
// the grid publishes its next version; the entry keeps the same cap.
func TestTwoWayKeepsMutable(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	mut := w.mutableFile(t, []byte("mutable v1"))
	w.link(t, root, "sub/m.txt", mut)
	a, b := w.replica(t, root, "a"), w.replica(t, root, "b")
	converge(t, "first mirror", has(map[string]string{"sub/m.txt": "mutable v1"}), a, b)
	a.write("sub/m.txt", "mutable v2, written on a")
	converge(t, "edit of a mutable", has(map[string]string{"sub/m.txt": "mutable v2, written on a"}), a, b)
	d, err := w.ed.Dir(context.Background(), root, []string{"sub"}, false)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := w.ed.List(context.Background(), d)
	if err != nil || len(ents) != 1 || ents[0].RWCap != mut.String() {
		t.Fatalf("entry after the edit: %+v, %v; want the same mutable", ents, err)
	}
	got, _, _, err := w.pub.Get(context.Background(), mut)
	if err != nil || string(got) != "mutable v2, written on a" {
		t.Errorf("the mutable holds %q, %v", got, err)
	}
}

// TestUploadMode: a live one-way backup sends local creates, edits and
// deletes to the grid, where a local change replaces whatever is there,
// and applies nothing from the grid.
func TestUploadMode(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	w.link(t, root, "remote-only.txt", w.upload(t, []byte("only on the grid")))
	r := &replica{t: t, w: w, root: root, name: "backup", dir: filepath.Join(t.TempDir(), "backup"), q: 50 * time.Millisecond, up: true}
	os.MkdirAll(r.dir, 0o755)
	r.write("before.txt", "there before the start")
	r.start()
	t.Cleanup(func() { r.stop() })
	gridTree := func() map[string]string {
		dir := t.TempDir()
		m := open(t, root, dir, w.g, mirror.Options{})
		if err := m.Sync(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		m.Close()
		return mirrortest.Tree(dir)
	}
	waitGrid := func(what string, cond func(map[string]string) bool) {
		t.Helper()
		deadline := time.Now().Add(generous)
		for g := gridTree(); !cond(g); g = gridTree() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the grid holds\n  %s", what, mirrortest.Describe(g))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitGrid("start", has(map[string]string{"before.txt": "there before the start", "remote-only.txt": "only on the grid"}))
	r.write("d/new.txt", "new")
	waitGrid("create", has(map[string]string{"d/new.txt": "new"}))
	w.link(t, root, "d/new.txt", w.upload(t, []byte("changed on the grid")))
	r.write("d/new.txt", "local wins")
	waitGrid("edit over a remote change", has(map[string]string{"d/new.txt": "local wins"}))
	os.Remove(r.path("before.txt"))
	waitGrid("delete", lacks("before.txt"))
	if _, err := os.Stat(r.path("remote-only.txt")); err == nil {
		t.Error("upload mode downloaded a file")
	}
}

// TestTwoWayRetriesWhenServersReturn: an upload that cannot reach enough
// servers is retried (with a pause) and lands once they are back.
func TestTwoWayRetriesWhenServersReturn(t *testing.T) {
	dg, err := demo.StartGrid(context.Background(), t.TempDir(), demo.GridOptions{Servers: 5, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dg.Close)
	w := newWorldOn(t, dg.Grid())
	root := w.mkdir(t)
	w.up.Happy = 5 // every server must take a share
	a, b := w.replica(t, root, "a"), w.replica(t, root, "b")
	converge(t, "start", nil, a, b)
	dg.Nodes[4].Stop()
	a.write("f.txt", "waits for the fifth server"+strings.Repeat(".", 100))
	waitFor(t, generous, "a failed upload", func() bool { return len(a.rec.of(events.Warning)) > 0 })
	if err := dg.Nodes[4].Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	converge(t, "after the server is back", has(map[string]string{"f.txt": "waits for the fifth server" + strings.Repeat(".", 100)}), a, b)
}

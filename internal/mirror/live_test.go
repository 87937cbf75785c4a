package mirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// generous bounds the wait for a pushed change to land locally; the
// latency itself is measured by BenchmarkChangeLatency.
const generous = 15 * time.Second

// TestLiveChangesAtThreeDepths adds, modifies, renames and removes files
// at the root, one level down and two levels down, changes a mutable
// file, and adds and removes a subdirectory, each while the mirror runs.
func TestLiveChangesAtThreeDepths(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	levels := []string{"", "d1", "d1/d2"}
	for _, l := range levels {
		w.link(t, root, join(l, "f.txt"), w.upload(t, []byte("first version of f at "+l+strings.Repeat(".", 100))))
	}
	mut := w.mutableFile(t, []byte("mutable v1"))
	w.link(t, root, "d1/d2/m.txt", mut)

	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	run(t, m, rec)
	local := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	waitFor(t, generous, "first mirror", hasContent(local("d1/d2/m.txt"), []byte("mutable v1")))

	var worst time.Duration
	step := func(what string, change func(), cond func() bool) {
		t.Helper()
		start := time.Now()
		change()
		if waitFor(t, generous, what, func() bool { return cond() || time.Since(start) > generous-time.Second }); !cond() {
			for _, e := range rec.evs {
				t.Logf("event %s %q %s", e.Type, e.Path, e.Message)
			}
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error { t.Logf("local %s", p); return nil })
			t.Fatalf("%s: not applied", what)
		}
		d := time.Since(start)
		worst = max(worst, d)
		t.Logf("%-28s %v", what, d.Round(time.Millisecond))
	}
	for _, l := range levels {
		added := []byte("added at " + l + strings.Repeat("+", 80))
		step("add "+join(l, "new.txt"), func() { w.link(t, root, join(l, "new.txt"), w.upload(t, added)) },
			hasContent(local(join(l, "new.txt")), added))
		v2 := []byte("second version of f at " + l + strings.Repeat("*", 90))
		fc := w.upload(t, v2)
		step("modify "+join(l, "f.txt"), func() { w.link(t, root, join(l, "f.txt"), fc) },
			hasContent(local(join(l, "f.txt")), v2))
		step("rename "+join(l, "f.txt"), func() {
			w.link(t, root, join(l, "g.txt"), fc)
			w.unlink(t, root, join(l, "f.txt"))
		}, func() bool { return hasContent(local(join(l, "g.txt")), v2)() && gone(local(join(l, "f.txt")))() })
		step("remove "+join(l, "new.txt"), func() { w.unlink(t, root, join(l, "new.txt")) },
			gone(local(join(l, "new.txt"))))
	}
	step("change mutable d1/d2/m.txt", func() { w.put(t, mut, []byte("mutable v2")) },
		hasContent(local("d1/d2/m.txt"), []byte("mutable v2")))
	sub := w.mkdir(t)
	w.link(t, sub, "x/deep.txt", w.upload(t, []byte("deep")))
	step("add subdirectory d1/d2/d3", func() { w.link(t, root, "d1/d2/d3", sub) },
		hasContent(local("d1/d2/d3/x/deep.txt"), []byte("deep")))
	step("remove subdirectory d1/d2/d3", func() { w.unlink(t, root, "d1/d2/d3") }, gone(local("d1/d2/d3")))
	t.Logf("slowest change: %v", worst)
	if t.Failed() {
		for _, e := range rec.evs {
			t.Logf("event %s %s", e.Type, e.Path)
		}
	}

	if c := rec.of(mirror.Conflict); len(c) > 0 {
		t.Errorf("unexpected conflicts: %v", c)
	}
	if n := len(rec.of(events.Added)); n < 4 {
		t.Errorf("%d added events, want at least 4", n)
	}
	// One vocabulary with the watcher: a replaced entry is modified, a
	// mutable's new version is changed.
	if !hasPath(rec.of(events.Modified), "d1/f.txt") || !hasPath(rec.of(events.Changed), "d1/d2/m.txt") || hasPath(rec.of(events.Modified), "d1/d2/m.txt") {
		t.Errorf("modified %v, changed %v: want d1/f.txt modified and d1/d2/m.txt changed", rec.of(events.Modified), rec.of(events.Changed))
	}
	noTemps(t, dir)
}

func hasPath(evs []events.Event, p string) bool {
	for _, e := range evs {
		if e.Path == p {
			return true
		}
	}
	return false
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// TestLiveEditRacingRemoteChange edits a file locally while the mirror
// runs, then changes it remotely: both versions survive and a conflict
// is reported; a local edit of a file removed remotely is kept.
func TestLiveEditRacingRemoteChange(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "a/c.txt", w.upload(t, []byte("remote one")))
	w.link(t, root, "a/k.txt", w.upload(t, []byte("to be removed")))
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	run(t, m, rec)
	c := filepath.Join(dir, "a", "c.txt")
	k := filepath.Join(dir, "a", "k.txt")
	waitFor(t, generous, "first mirror", hasContent(k, []byte("to be removed")))
	waitFor(t, generous, "first mirror", hasContent(c, []byte("remote one")))

	if err := os.WriteFile(c, []byte("my edit"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.link(t, root, "a/c.txt", w.upload(t, []byte("remote two")))
	waitFor(t, generous, "conflict event", func() bool { return len(rec.of(mirror.Conflict)) == 1 })
	if b, _ := os.ReadFile(c); string(b) != "my edit" {
		t.Errorf("local edit lost: %q", b)
	}
	copies, _ := filepath.Glob(c + ".conflict-*")
	if len(copies) != 1 {
		t.Fatalf("conflict copies %v", copies)
	}
	if b, _ := os.ReadFile(copies[0]); string(b) != "remote two" {
		t.Errorf("conflict copy holds %q", b)
	}
	if !strings.HasSuffix(copies[0], "-0") {
		t.Errorf("conflict copy %s does not end in its seqnum 0", copies[0])
	}

	// Once the user removes their copy, the remote version comes back
	// on the next reconcile.
	if err := os.Remove(c); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(c); string(b) != "remote two" {
		t.Errorf("after removing the local edit c.txt holds %q", b)
	}

	if err := os.WriteFile(k, []byte("edited before the remote delete"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.unlink(t, root, "a/k.txt")
	waitFor(t, generous, "second conflict event", func() bool { return len(rec.of(mirror.Conflict)) == 2 })
	if b, _ := os.ReadFile(k); string(b) != "edited before the remote delete" {
		t.Errorf("local edit of a removed file lost: %q", b)
	}
	noTemps(t, dir)
}

// TestLocalEditsSurviveRestart: edits made while the mirror was stopped
// are found by hash on the next start.
func TestLocalEditsSurviveRestart(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "e.txt", w.upload(t, []byte("remote one")))
	w.link(t, root, "same.txt", w.upload(t, []byte("untouched")))
	dir := t.TempDir()
	ctx := context.Background()
	m := open(t, root, dir, w.g, mirror.Options{})
	if err := m.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	m.Close()
	os.WriteFile(filepath.Join(dir, "e.txt"), []byte("offline edit!"), 0o644) // same size, new mtime
	w.link(t, root, "e.txt", w.upload(t, []byte("remote two")))
	rec := &recorder{}
	m = open(t, root, dir, w.g, mirror.Options{})
	if err := m.Sync(ctx, rec.emit); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "e.txt")); string(b) != "offline edit!" {
		t.Errorf("offline edit lost: %q", b)
	}
	if n := len(rec.of(mirror.Conflict)); n != 1 {
		t.Errorf("%d conflicts, want 1", n)
	}
}

// TestResumeSkipsCompleteFiles: a second run downloads nothing when
// nothing changed, and only what changed otherwise.
func TestResumeSkipsCompleteFiles(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	for i := range 6 {
		w.link(t, root, fmt.Sprintf("s/f%d", i), w.upload(t, []byte(fmt.Sprintf("file %d %s", i, strings.Repeat("x", 200)))))
	}
	mut := w.mutableFile(t, []byte("mutable one"))
	w.link(t, root, "m", mut)
	dir := t.TempDir()
	ctx := context.Background()
	sync := func() mirror.ProgressEvent {
		var last mirror.ProgressEvent
		m := open(t, root, dir, w.g, mirror.Options{Progress: func(p mirror.ProgressEvent) { last = p }})
		if err := m.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
		m.Close()
		return last
	}
	if p := sync(); p.Skipped != 0 || p.FilesDone != 7 {
		t.Fatalf("first run %+v", p)
	}
	if p := sync(); p.Skipped != 7 || p.FilesDone != 7 || p.Rate != 0 {
		t.Fatalf("second run downloaded: %+v", p)
	}
	w.put(t, mut, []byte("mutable two"))
	if p := sync(); p.Skipped != 6 || p.FilesDone != 7 {
		t.Fatalf("third run %+v", p)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "m")); string(b) != "mutable two" {
		t.Errorf("m = %q", b)
	}
}

// TestKeepDeleted: with Keep (--delete=false) a file removed remotely
// stays; without, it goes, and so does its emptied directory.
func TestKeepDeleted(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "k/kept.txt", w.upload(t, []byte("kept")))
	w.link(t, root, "g/gone.txt", w.upload(t, []byte("gone")))
	dir := t.TempDir()
	ctx := context.Background()
	sync := func(keep bool) {
		m := open(t, root, dir, w.g, mirror.Options{Keep: keep})
		if err := m.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	sync(false)
	w.unlink(t, root, "k/kept.txt")
	sync(true)
	if !hasContent(filepath.Join(dir, "k", "kept.txt"), []byte("kept"))() {
		t.Error("Keep removed a file")
	}
	w.unlink(t, root, "g")
	sync(false)
	if !gone(filepath.Join(dir, "g"))() {
		t.Error("a removed directory stayed")
	}
	if !hasContent(filepath.Join(dir, "k", "kept.txt"), []byte("kept"))() {
		t.Error("a kept file was removed later")
	}
}

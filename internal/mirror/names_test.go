package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
)

// TestHostileNamesAreSkipped publishes a directory whose entries are
// named to escape LOCALDIR or to be unwritable, and checks that only the
// harmless entry is written and nothing appears outside LOCALDIR.
func TestHostileNamesAreSkipped(t *testing.T) {
	w := newWorld(t, 3)
	evil := w.upload(t, []byte("evil")).String()
	hostile := map[string]string{
		"../x":               evil,
		"../../etc/x":        evil,
		"a/b":                evil,
		"..":                 evil,
		".":                  evil,
		"nul\x00x":           evil,
		"ctl\x01x":           evil,
		"tab\tx":             evil,
		"del\x7fx":           evil,
		".tahoe-watch":       evil,
		"ok ünï.txt":         w.upload(t, []byte("fine")).String(),
		".tahoe-watch-tmp-1": evil,
	}
	root := w.createRaw(t, rawDir(hostile))
	parent := t.TempDir()
	dir := filepath.Join(parent, "mirror")
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{})
	if err := m.Sync(context.Background(), rec.emit); err != nil {
		t.Fatal(err)
	}
	got := listTree(t, dir)
	if len(got) != 1 || got["ok ünï.txt"] == "" {
		t.Errorf("mirrored %q, want only ok ünï.txt", sortedKeys(got))
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Errorf("written beside LOCALDIR: %v", ents)
	}
	if st, err := os.ReadDir(filepath.Join(dir, mirror.StateDir)); err != nil || len(st) != 2 {
		t.Errorf("state directory holds %v (%v), want lock and state.jsonl", st, err)
	}
	warnings := rec.of(events.Warning)
	if len(warnings) != len(hostile)-1 {
		t.Errorf("%d warnings, want %d: %v", len(warnings), len(hostile)-1, warnings)
	}
	for _, e := range warnings {
		if strings.ContainsAny(e.Message, "\x00\x01\x7f") {
			t.Errorf("warning prints a raw control character: %q", e.Message)
		}
	}
}

// TestSymlinksAreNotFollowed: a symlink the user put where a remote
// directory goes is never written through.
func TestSymlinksAreNotFollowed(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "sub/x.txt", w.upload(t, []byte("x")))
	w.link(t, root, "y.txt", w.upload(t, []byte("y")))
	outside := t.TempDir()
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "sub")); err != nil {
		t.Skip(err)
	}
	if err := os.Symlink(filepath.Join(outside, "y"), filepath.Join(dir, "y.txt")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{})
	m.Sync(context.Background(), rec.emit)
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written through a symlink: %v", ents)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "y.txt")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the user's symlink y.txt was replaced")
	}
	if len(rec.of(mirror.Conflict)) != 1 || len(rec.of(events.Warning)) == 0 {
		t.Errorf("want a conflict for y.txt and a warning for sub: %v", rec.evs)
	}
}

// TestHostileNamesLive adds hostile entries to a directory while it is
// mirrored; their events name paths ("a/b", and "x" for "../x" inside
// a) that must not be taken at their word.
func TestHostileNamesLive(t *testing.T) {
	w := newWorld(t, 3)
	a := w.mkdir(t)
	ok := w.upload(t, []byte("fine")).String()
	evil := w.upload(t, []byte("evil")).String()
	w.link(t, a, "inner.txt", w.upload(t, []byte("inner")))
	root := w.createRaw(t, rawDir(map[string]string{"a": a.ReadOnly().String(), "ok.txt": ok}))
	parent := t.TempDir()
	dir := filepath.Join(parent, "mirror")
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{})
	run(t, m, rec)
	waitFor(t, generous, "first mirror", hasContent(filepath.Join(dir, "a", "inner.txt"), []byte("inner")))

	if _, err := w.pub.Modify(context.Background(), a, func([]byte) ([]byte, error) {
		return rawDir(map[string]string{"inner.txt": evil, "../x": evil, "../../y": evil}), nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pub.Modify(context.Background(), root, func([]byte) ([]byte, error) {
		return rawDir(map[string]string{"a": a.ReadOnly().String(), "ok.txt": ok, "a/b": evil, "new.txt": ok}), nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, generous, "the legitimate changes", func() bool {
		return hasContent(filepath.Join(dir, "new.txt"), []byte("fine"))() &&
			hasContent(filepath.Join(dir, "a", "inner.txt"), []byte("evil"))()
	})
	got := listTree(t, dir)
	want := []string{"a", "a/inner.txt", "new.txt", "ok.txt"}
	if keys := sortedKeys(got); strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("mirror holds %q, want %q", keys, want)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("written beside LOCALDIR: %v", ents)
	}
}

// TestOneMirrorPerDirectory: a second mirror of the same LOCALDIR is
// refused while the first is open.
func TestOneMirrorPerDirectory(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	dir := t.TempDir()
	first := open(t, root, dir, w.g, mirror.Options{})
	if _, err := mirror.Open(root, dir, mirror.Options{Grid: w.g}); err == nil {
		t.Fatal("a second mirror opened the same directory")
	}
	first.Close()
	second, err := mirror.Open(root, dir, mirror.Options{Grid: w.g})
	if err != nil {
		t.Fatal(err)
	}
	second.Close()
}

// TestCycleFollowedOnce: a directory that contains itself is mirrored
// once, with a warning, instead of forever.
func TestCycleFollowedOnce(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "a/f.txt", w.upload(t, []byte("f")))
	a, err := w.ed.Dir(context.Background(), root, []string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	w.link(t, root, "a/again", a.ReadOnly())
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{})
	if err := m.Sync(context.Background(), rec.emit); err != nil {
		t.Fatal(err)
	}
	got := sortedKeys(listTree(t, dir))
	if strings.Join(got, ",") != "a,a/again,a/f.txt" {
		t.Errorf("mirrored %q", got)
	}
	if len(rec.of(events.Warning)) != 1 {
		t.Errorf("warnings %v", rec.of(events.Warning))
	}
}

// TestNormalizationClashOneFile: two entries whose names differ only in
// Unicode normalization (NFD "e" + U+0301, then NFC "é") would be one
// file on macOS. internal/tahoe/dirnode reads every name as NFC and lets
// the later entry of one name win, as Tahoe does, so the mirror sees and
// writes exactly one file, named in NFC, holding the later entry, on
// every file system; a live change to that entry follows it.
func TestNormalizationClashOneFile(t *testing.T) {
	w := newWorld(t, 3)
	nfc, nfd := "caf\u00e9.txt", "cafe\u0301.txt"
	entry := func(name string, c string) string {
		return netstring(netstring(name) + netstring(c) + netstring("") + netstring("{}"))
	}
	ok := entry("ok.txt", w.upload(t, []byte("fine")).String())
	first := entry(nfd, w.upload(t, []byte("decomposed, first")).String())
	root := w.createRaw(t, []byte(ok+first+entry(nfc, w.upload(t, []byte("composed, later")).String())))
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{})
	run(t, m, rec)
	waitFor(t, generous, "first mirror", hasContent(filepath.Join(dir, nfc), []byte("composed, later")))
	waitFor(t, generous, "ok.txt mirrored", hasContent(filepath.Join(dir, "ok.txt"), []byte("fine")))
	if got := sortedKeys(listTree(t, dir)); strings.Join(got, ",") != nfc+",ok.txt" {
		t.Errorf("mirrored %q, want only %q and ok.txt", got, nfc)
	}

	later := entry(nfc, w.upload(t, []byte("composed, changed")).String())
	if _, err := w.pub.Modify(context.Background(), root, func([]byte) ([]byte, error) { return []byte(ok + first + later), nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, generous, "the live change", hasContent(filepath.Join(dir, nfc), []byte("composed, changed")))
	if got := sortedKeys(listTree(t, dir)); strings.Join(got, ",") != nfc+",ok.txt" {
		t.Errorf("mirrored %q, want only %q and ok.txt", got, nfc)
	}
	if n := len(rec.of(mirror.Conflict)) + len(rec.of(events.Warning)); n != 0 {
		t.Errorf("%d conflicts or warnings, want none", n)
	}
}

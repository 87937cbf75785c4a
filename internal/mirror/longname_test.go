package mirror_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// longName is 250 bytes of two-byte characters with an extension: a
// conflict marker appended whole would pass NAME_MAX.
var longName = strings.Repeat("é", 123) + ".txt"

// conflictCopies returns the names in dir that are conflict copies of
// longName, failing if one does not fit or lost its extension.
func conflictCopies(t *testing.T, names []string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		if n == longName || !strings.HasPrefix(n, strings.Repeat("é", 40)) {
			continue
		}
		if len(n) > 255 || !utf8.ValidString(n) || !strings.Contains(n, ".txt.conflict-") {
			t.Errorf("conflict copy %q (%d bytes)", n, len(n))
		}
		out = append(out, n)
	}
	return out
}

// TestTwoWayConflictOfLongName: both replicas edit a file whose name is
// 250 bytes; both versions survive on both, the copy under a shortened
// name that keeps ".txt" and the conflict marker.
func TestTwoWayConflictOfLongName(t *testing.T) {
	w := newWorld(t, 5)
	root := w.mkdir(t)
	w.link(t, root, longName, w.upload(t, []byte("base version"+strings.Repeat(".", 100))))
	a, b := w.replica(t, root, "a"), w.replica(t, root, "b")
	converge(t, "first mirror", has(map[string]string{longName: "base version" + strings.Repeat(".", 100)}), a, b)
	a.write(longName, "edited on a")
	b.write(longName, "edited on b")
	final := converge(t, "both versions kept", func(m map[string]string) bool {
		seen := map[string]bool{}
		for p, v := range m {
			if strings.HasPrefix(p, strings.Repeat("é", 40)) {
				seen[v] = true
			}
		}
		return seen["edited on a"] && seen["edited on b"]
	}, a, b)
	var names []string
	for p := range final {
		names = append(names, p)
	}
	if c := conflictCopies(t, names); len(c) != 1 {
		t.Errorf("conflict copies %q", c)
	}
	if g := conflictCopies(t, w.gridNames(t, root, "")); len(g) != 1 {
		t.Errorf("conflict copies on the grid %q", g)
	}
}

// TestMirrorConflictOfLongName: in one-way mirror mode, a remote change
// of a locally edited file with a 250-byte name goes beside it under a
// shortened name.
func TestMirrorConflictOfLongName(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, longName, w.upload(t, []byte("remote one")))
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	p := probe(m)
	run(t, m, rec)
	e := filepath.Join(dir, longName)
	waitFor(t, generous, "first mirror", hasContent(e, []byte("remote one")))
	p.settle(t, dir, "barrier1")
	if err := os.WriteFile(e, []byte("local edit"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.settle(t, dir, "barrier2")
	w.link(t, root, longName, w.upload(t, []byte("remote two")))
	waitFor(t, generous, "conflict event", func() bool { return len(rec.of(mirror.Conflict)) == 1 })
	if warns := rec.of("warning"); len(warns) != 0 {
		t.Errorf("warnings: %+v", warns)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	copies := conflictCopies(t, names)
	if len(copies) != 1 {
		t.Fatalf("conflict copies %q", copies)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, copies[0])); string(b) != "remote two" {
		t.Errorf("conflict copy holds %q", b)
	}
	if b, _ := os.ReadFile(e); string(b) != "local edit" {
		t.Errorf("local edit lost: %q", b)
	}
}

package tui

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// FuzzWatchList loads arbitrary bytes as the dashboard's watch list (a
// user file, possibly hand-edited with write caps in it): no panic, only
// read caps come out, names are printable, an error never shows a write
// key, and what loads saves and loads back the same.
func FuzzWatchList(f *testing.F) {
	vs := testutil.CapVectors(f)
	for _, v := range []testutil.CapVector{vs[0], vs[1], vs[len(vs)/2], vs[len(vs)-1]} {
		f.Add([]byte("caps:\n- " + v.Expected + "\n- {cap: " + v.Expected + ", name: \"x\\e[2J\"}\n"))
		f.Add([]byte("caps:\n- " + v.Expected[:len(v.Expected)-3] + "\n"))
	}
	f.Add([]byte("caps: [1, {cap: [x]}, null]\n"))
	f.Add([]byte("caps: {a: b}\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "tui.yaml")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ts, err := LoadWatchList(file)
		if err != nil {
			if msg := err.Error(); cap.Scrub(msg) != msg {
				t.Fatalf("error shows a write key: %s", msg)
			}
			return
		}
		for _, tg := range ts {
			if !tg.Cap.IsReadOnly() {
				t.Fatalf("write cap loaded: %s", cap.Redacted(tg.Cap))
			}
			if tg.Name != printable(tg.Name) {
				t.Fatalf("name %q not printable", tg.Name)
			}
		}
		out := filepath.Join(dir, "again.yaml")
		if err := SaveWatchList(out, ts); err != nil {
			t.Fatal(err)
		}
		back, err := LoadWatchList(out)
		if err != nil || len(back) != len(ts) {
			t.Fatalf("saved list does not load back: %d of %d, %v", len(back), len(ts), err)
		}
		for i := range ts {
			if back[i].Cap.String() != ts[i].Cap.String() || back[i].Name != ts[i].Name {
				t.Fatalf("entry %d: %q %q, want %q %q", i, back[i].Cap, back[i].Name, ts[i].Cap, ts[i].Name)
			}
		}
	})
}

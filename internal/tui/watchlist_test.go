package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWatchListKeepsReadCapsOnly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "tui.yaml")
	w, r := fixedCap(3, false), fixedCap(4, true)
	if err := SaveWatchList(file, []Target{{Cap: w}, {Cap: r.ReadOnly(), Name: "docs"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), w.String()) {
		t.Fatalf("write cap saved:\n%s", b)
	}
	caps, err := LoadWatchList(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(caps) != 2 || caps[0].Cap.String() != readCap(w) || caps[1].Cap.String() != readCap(r) ||
		caps[0].Name != "" || caps[1].Name != "docs" {
		t.Fatalf("loaded %v", caps)
	}
}

func TestWatchListMissingIsEmpty(t *testing.T) {
	caps, err := LoadWatchList(filepath.Join(t.TempDir(), "none.yaml"))
	if err != nil || len(caps) != 0 {
		t.Fatalf("%v, %v", caps, err)
	}
}

// TestWatchListNames reads a hand-written list mixing bare caps and named
// entries, as a user edits it.
func TestWatchListNames(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tui.yaml")
	a, b := readCap(fixedCap(5, false)), readCap(fixedCap(6, true))
	text := "caps:\n  - " + a + "\n  - cap: " + b + "\n    name: \"photos\\e[31m\"\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ts, err := LoadWatchList(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Name != "" || ts[1].Cap.String() != b || ts[1].Name != "photos�[31m" {
		t.Fatalf("loaded %+v", ts)
	}
}

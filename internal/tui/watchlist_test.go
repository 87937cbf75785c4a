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
	if err := SaveWatchList(file, []string{w.String(), readCap(r)}); err != nil {
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
	if len(caps) != 2 || caps[0].String() != readCap(w) || caps[1].String() != readCap(r) {
		t.Fatalf("loaded %v", caps)
	}
}

func TestWatchListMissingIsEmpty(t *testing.T) {
	caps, err := LoadWatchList(filepath.Join(t.TempDir(), "none.yaml"))
	if err != nil || len(caps) != 0 {
		t.Fatalf("%v, %v", caps, err)
	}
}

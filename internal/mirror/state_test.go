package mirror

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJournalCompactedWhileRunning: a journal that is only appended to
// (a long live run rewriting a few files over and over) is compacted
// once it holds compactFactor lines per live record, atomically; it
// never grows past that bound, and what it holds replays to the
// latest records, also after a reopen.
func TestJournalCompactedWhileRunning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), StateDir)
	s, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	const files, rounds = 10, 300
	journal := filepath.Join(dir, journalName)
	most := 0
	for i := range rounds {
		for f := range files {
			r := Record{Path: fmt.Sprintf("d/f%d", f), Cap: "URI:LIT:x", Size: int64(i), SHA256: "h"}
			if err := s.put(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.put(Record{Path: fmt.Sprintf("gone%d", i), Cap: "URI:LIT:y"}); err != nil {
			t.Fatal(err)
		}
		if err := s.put(Record{Path: fmt.Sprintf("gone%d", i), Deleted: true}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(journal)
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, bytes.Count(b, []byte("\n")))
	}
	if most >= compactMin || most < compactMin-(files+2) {
		t.Errorf("journal grew to %d lines; want it compacted at %d", most, compactMin)
	}
	t.Logf("%d puts, journal at most %d lines", rounds*(files+2), most)
	if fi, err := os.Stat(journal); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v (%v), want 0600", fi.Mode(), err)
	}
	// Appends after the last compaction land in the renamed file.
	if err := s.put(Record{Path: "last", Cap: "URI:LIT:z"}); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	s, err = openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got := s.under(""); len(got) != files+1 {
		t.Fatalf("replayed %q, want %d files and last", got, files)
	}
	for f := range files {
		if r := s.get(fmt.Sprintf("d/f%d", f)); r == nil || r.Size != rounds-1 {
			t.Errorf("f%d replayed as %+v, want size %d", f, r, rounds-1)
		}
	}
	if s.get("last") == nil {
		t.Error("the record appended after compaction was lost")
	}
}

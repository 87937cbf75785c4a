package mirror

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzStateJournal replays arbitrary bytes as the sync state journal (a
// file a crash may tear and a user may edit): opening it must not panic
// nor fail on a bad line, must keep only records with a path, and what
// it compacts to (one line per record, as rewrite writes) must replay to
// the same records.
func FuzzStateJournal(f *testing.F) {
	f.Add([]byte(`{"path":"a/b","cap":"URI:LIT:x","size":1,"sha256":"h","mtime":5}` + "\n" +
		`{"path":"c","cap":"URI:SSK-RO:a:b","seqnum":3,"roothash":"r","size":0,"sha256":"","mtime":0}` + "\n"))
	f.Add([]byte(`{"path":"a","cap":"URI:LIT:x"}` + "\n" + `{"path":"a","deleted":true}` + "\n" + `{"path":"b","cap`))
	f.Add([]byte("\x00\xff\n{}\n[]\nnull\n{\"path\":\"\"}\n{\"path\":\"x\",\"size\":\"big\"}\n"))
	f.Add([]byte(`{"path":"x","seqnum":18446744073709551615,"size":-1,"conflict":true}`))
	f.Fuzz(func(t *testing.T, journal []byte) {
		dir := t.TempDir()
		s := replay(t, dir, journal)
		for p, r := range s.recs {
			if p == "" || r.Path != p || r.Deleted {
				t.Fatalf("record %q kept as %+v", p, r)
			}
		}
		checkIndex(t, s)
		var compacted bytes.Buffer // what rewrite writes
		enc := json.NewEncoder(&compacted)
		for _, p := range s.paths("") {
			if err := enc.Encode(s.recs[p]); err != nil {
				t.Fatal(err)
			}
		}
		again := replay(t, dir, compacted.Bytes())
		if len(again.recs) != len(s.recs) {
			t.Fatalf("compacted journal replays to %d records, want %d", len(again.recs), len(s.recs))
		}
		for p, r := range s.recs {
			if a := again.recs[p]; a == nil || *a != *r {
				t.Fatalf("record %q replays as %+v, want %+v", p, a, r)
			}
		}
	})
}

// replay loads journal as the state journal in dir. Only a line over
// the scanner's bound may fail it.
func replay(t *testing.T, dir string, journal []byte) *state {
	if err := os.WriteFile(filepath.Join(dir, journalName), journal, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &state{dir: dir, recs: map[string]*Record{}}
	if err := s.load(); err != nil && len(journal) < 1<<20 {
		t.Fatalf("journal of %d bytes fails to load: %v", len(journal), err)
	}
	return s
}

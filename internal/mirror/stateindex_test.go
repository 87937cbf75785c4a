package mirror

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// scanUnder is what state.paths answers, by a scan of every record.
func scanUnder(s *state, prefix string) []string {
	var out []string
	for p := range s.recs {
		if prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// checkIndex fails unless the index answers as a scan does at every
// recorded path, every directory above one and a few others, finds each
// record by its sum, and holds nothing else.
func checkIndex(t *testing.T, s *state, extra ...string) {
	t.Helper()
	probes := append([]string{""}, extra...)
	for p := range s.recs {
		for q := p; q != "" && len(probes) < 10000; q = parent(q) {
			probes = append(probes, q)
		}
	}
	for _, p := range probes {
		if got, want := s.paths(p), scanUnder(s, p); !slices.Equal(got, want) {
			t.Fatalf("paths(%q) = %q, a scan finds %q", p, got, want)
		}
	}
	n := 0
	for sum, ps := range s.bySum {
		for p := range ps {
			if r := s.recs[p]; r == nil || r.SHA256 != sum {
				t.Fatalf("bySum[%q] holds %q: %+v", sum, p, r)
			}
			n++
		}
	}
	if n != len(s.recs) {
		t.Fatalf("bySum indexes %d records of %d", n, len(s.recs))
	}
	for d, cs := range s.kids {
		for c := range cs {
			if parent(c) != d || s.recs[c] == nil && len(s.kids[c]) == 0 {
				t.Fatalf("kids[%q] holds %q, which holds nothing", d, c)
			}
		}
	}
}

// TestStateIndexMatchesScan: after random puts and deletes (files
// replaced by directories and back, whole trees removed) the index
// answers every query as a scan of the journal does.
func TestStateIndexMatchesScan(t *testing.T) {
	s, err := openState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "a/b", "a/b/c", "a/c", "b/a", "a//x", "a/", "/a", "ab", "a.b/c"}
	for i := range 3000 {
		p := names[rng.IntN(len(names))]
		if rng.IntN(3) == 0 {
			p = fmt.Sprintf("%s/%d", p, rng.IntN(5))
		}
		del := rng.IntN(2) == 0
		if err := s.put(Record{Path: p, SHA256: fmt.Sprint(rng.IntN(4)), Deleted: del}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			checkIndex(t, s, "a/b/c/d", "zz", "a/")
		}
	}
	checkIndex(t, s)
	for _, p := range s.paths("a") {
		s.put(Record{Path: p, Deleted: true})
	}
	checkIndex(t, s)
	if got := s.paths("a"); len(got) != 0 {
		t.Fatalf("after deleting all of a: %q", got)
	}
}

// BenchmarkDeleteOneOfMany: a local delete looks up the records below
// the deleted path; with b.N records in the journal that must not cost
// a scan of them all (compare ns/op at -benchtime 1000x and 100000x).
func BenchmarkDeleteOneOfMany(b *testing.B) {
	s, err := openState(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	for i := range b.N {
		s.set(&Record{Path: fmt.Sprintf("dir%d/file%d", i%100, i), SHA256: fmt.Sprint(i)})
	}
	b.ResetTimer()
	for i := range b.N {
		p := fmt.Sprintf("dir%d/file%d", i%100, i)
		if got := s.under(p); len(got) != 1 {
			b.Fatalf("under(%q) = %q", p, got)
		}
		s.mu.Lock()
		s.del(p)
		s.mu.Unlock()
	}
}

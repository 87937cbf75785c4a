package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

func newBackend(t testing.TB) *Backend {
	t.Helper()
	b, err := OpenBackend(BackendConfig{Dir: filepath.Join(t.TempDir(), "storage"), NodeID: [20]byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	testSI  = bytes.Repeat([]byte{0xab}, 16)
	testSec = MutableSecrets{WriteEnabler: bytes.Repeat([]byte{1}, 32), RenewSecret: bytes.Repeat([]byte{2}, 32), CancelSecret: bytes.Repeat([]byte{3}, 32)}
)

func write(data string, shnums ...int) map[int]TestWrite {
	tw := map[int]TestWrite{}
	for _, n := range shnums {
		tw[n] = TestWrite{Write: []WriteVector{{0, []byte(data)}}}
	}
	return tw
}

func TestObserversSeeDurableChanges(t *testing.T) {
	b := newBackend(t)
	type ev struct {
		shnum int
		data  string
	}
	var mu sync.Mutex
	var got []ev
	b.OnMutableChange(func(si []byte, n int) {
		raw, err := os.ReadFile(b.sharePath(si, n))
		data := "<deleted>"
		if err == nil {
			m, err := container.ParseMutable(raw)
			if err != nil {
				t.Error(err)
				return
			}
			data = string(m.Data())
		}
		mu.Lock()
		got = append(got, ev{n, data})
		mu.Unlock()
	})
	ctx := context.Background()
	mustRTW(t, b, write("one", 0, 1))
	mustRTW(t, b, write("one", 0)) // no change: no event
	zero := uint64(0)
	mustRTW(t, b, map[int]TestWrite{1: {NewLength: &zero}})
	if ok, _, _ := b.ReadTestWrite(ctx, testSI, testSec, map[int]TestWrite{0: {Test: []TestVector{{0, 3, []byte("two")}}, Write: []WriteVector{{0, []byte("x")}}}}, nil); ok {
		t.Fatal("failed test applied")
	}
	want := []ev{{0, "one"}, {1, "one"}, {1, "<deleted>"}}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func mustRTW(t *testing.T, b *Backend, tw map[int]TestWrite) map[int][][]byte {
	t.Helper()
	ok, reads, err := b.ReadTestWrite(context.Background(), testSI, testSec, tw, []ReadVector{{0, 100}})
	if err != nil || !ok {
		t.Fatalf("read-test-write: %v %v", ok, err)
	}
	return reads
}

func TestWriteEnablerMismatchChangesNothing(t *testing.T) {
	b := newBackend(t)
	mustRTW(t, b, write("data", 0))
	before, _ := os.ReadFile(b.sharePath(testSI, 0))
	bad := testSec
	bad.WriteEnabler = bytes.Repeat([]byte{7}, 32)
	_, _, err := b.ReadTestWrite(context.Background(), testSI, bad, write("evil", 1), nil)
	if err == nil {
		t.Fatal("wrong write enabler accepted")
	}
	after, _ := os.ReadFile(b.sharePath(testSI, 0))
	if !bytes.Equal(before, after) {
		t.Fatal("share changed")
	}
	if _, err := os.Stat(b.sharePath(testSI, 1)); err == nil {
		t.Fatal("share 1 created despite the bad write enabler")
	}
}

func TestNewSharesAreTahoeV2WithLease(t *testing.T) {
	b := newBackend(t)
	mustRTW(t, b, write("hello", 4))
	raw, _ := os.ReadFile(b.sharePath(testSI, 4))
	m, err := container.ParseMutable(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || string(m.Data()) != "hello" || m.NodeID != [20]byte{9} {
		t.Fatalf("container v%d data %q", m.Version, m.Data())
	}
	ls := m.Leases()
	if len(ls) != 1 || ls[0].RenewSecret != container.HashSecret(testSec.RenewSecret) || ls[0].NodeID != [20]byte{9} {
		t.Fatalf("leases %+v", ls)
	}
	// A second write with the same secrets renews, not adds.
	mustRTW(t, b, write("hello", 4))
	raw, _ = os.ReadFile(b.sharePath(testSI, 4))
	m, _ = container.ParseMutable(raw)
	if len(m.Leases()) != 1 {
		t.Fatalf("lease added twice: %d", len(m.Leases()))
	}
}

// TestJournalRecovery builds the states a crash can leave and checks
// that reopening rolls committed journals forward and others back.
func TestJournalRecovery(t *testing.T) {
	b := newBackend(t)
	mustRTW(t, b, write("old", 0, 1, 2))
	dir := b.siDir(testSI)
	newer := container.NewMutable(2, [20]byte{}, [32]byte(testSec.WriteEnabler))
	newer.Write(0, []byte("new"))
	for _, n := range []string{"0", "1"} {
		os.WriteFile(filepath.Join(dir, n+newSuffix), newer.Bytes(), 0o600)
	}
	// Uncommitted: rolled back.
	if _, err := OpenBackend(BackendConfig{Dir: b.dir}); err != nil {
		t.Fatal(err)
	}
	expectData(t, b, map[int]string{0: "old", 1: "old", 2: "old"})
	// Committed, half applied (share 0 already renamed, 2 to delete): rolled forward.
	os.WriteFile(filepath.Join(dir, "0"), newer.Bytes(), 0o600)
	os.WriteFile(filepath.Join(dir, "1"+newSuffix), newer.Bytes(), 0o600)
	os.WriteFile(filepath.Join(dir, commitName), []byte("w 0\nw 1\nd 2\n"), 0o600)
	if _, err := OpenBackend(BackendConfig{Dir: b.dir}); err != nil {
		t.Fatal(err)
	}
	expectData(t, b, map[int]string{0: "new", 1: "new"})
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("leftovers in %s: %d entries", dir, len(ents))
	}
}

func expectData(t *testing.T, b *Backend, want map[int]string) {
	t.Helper()
	nums, _ := b.MutableShares(testSI)
	if len(nums) != len(want) {
		t.Fatalf("shares %v, want %v", nums, want)
	}
	for n, w := range want {
		r, err := b.OpenShare(testSI, n, container.MutableKind)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, r.Size())
		r.ReadAt(got, 0)
		r.Close()
		if string(got) != w {
			t.Fatalf("share %d: %q, want %q", n, got, w)
		}
	}
}

func TestRangeSet(t *testing.T) {
	var s rangeSet
	s = s.add(Range{4, 8}).add(Range{0, 2}).add(Range{2, 4})
	if len(s) != 1 || s[0] != (Range{0, 8}) {
		t.Fatalf("merged %v", s)
	}
	s = s.add(Range{10, 12})
	if m := s.missing(14); len(m) != 2 || m[0] != (Range{8, 10}) || m[1] != (Range{12, 14}) {
		t.Fatalf("missing %v", m)
	}
	if o := s.overlaps(Range{6, 11}); len(o) != 2 || o[0] != (Range{6, 8}) || o[1] != (Range{10, 11}) {
		t.Fatalf("overlaps %v", o)
	}
}

package storage

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// TestInPlaceWritesMatchContainer: read-test-writes applied in place
// leave each share file byte for byte as Tahoe's container model
// (container.Mutable: Write, Truncate, AddOrRenewLease, Bytes) lays it
// out, over random sequences of writes that grow, overwrite, leave gaps,
// shrink and add leases.
func TestInPlaceWritesMatchContainer(t *testing.T) {
	b := newBackend(t)
	clock := time.Unix(1_700_000_000, 0)
	b.now = func() time.Time { return clock }
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 30 {
		si := bytes.Repeat([]byte{byte(round + 1)}, 16)
		we := bytes.Repeat([]byte{7}, 32)
		models := map[int]*container.Mutable{}
		for step := range 8 {
			renew := bytes.Repeat([]byte{byte(r.IntN(6))}, 32) // repeats renew, new ones add leases
			sec := MutableSecrets{WriteEnabler: we, RenewSecret: renew, CancelSecret: bytes.Repeat([]byte{2}, 32)}
			tw := map[int]TestWrite{}
			for range 1 + r.IntN(3) {
				n := r.IntN(4)
				v := TestWrite{}
				for range r.IntN(4) {
					d := make([]byte, r.IntN(3000))
					for i := range d {
						d[i] = byte(r.Uint32())
					}
					v.Write = append(v.Write, WriteVector{Offset: uint64(r.IntN(8000)), Data: d})
				}
				if r.IntN(4) == 0 {
					l := uint64(r.IntN(6000))
					if l == 0 && step < 6 {
						l = 1
					}
					v.NewLength = &l
				}
				tw[n] = v
			}
			ok, _, err := b.ReadTestWrite(context.Background(), si, sec, tw, nil)
			if err != nil || !ok {
				t.Fatalf("round %d step %d: %v %v", round, step, ok, err)
			}
			lease := container.NewLeaseRequest(sec.RenewSecret, sec.CancelSecret, clock, b.nodeID)
			for n, v := range tw {
				if v.NewLength != nil && *v.NewLength == 0 {
					delete(models, n)
					continue
				}
				m := models[n]
				if m == nil {
					m = container.NewMutable(container.NewestMutableVersion, b.nodeID, [32]byte(we))
					models[n] = m
				}
				for _, w := range v.Write {
					if err := m.Write(w.Offset, w.Data); err != nil {
						t.Fatal(err)
					}
				}
				if v.NewLength != nil {
					m.Truncate(*v.NewLength)
				}
				m.AddOrRenewLease(lease)
			}
			for n := range 4 {
				raw, err := os.ReadFile(b.sharePath(si, n))
				m := models[n]
				switch {
				case m == nil && !os.IsNotExist(err):
					t.Fatalf("round %d step %d: share %d exists (%v), model has none", round, step, n, err)
				case m != nil && err != nil:
					t.Fatalf("round %d step %d: share %d: %v", round, step, n, err)
				case m != nil && !bytes.Equal(raw, m.Bytes()):
					t.Fatalf("round %d step %d: share %d on disk (%d bytes) differs from the container model (%d bytes)", round, step, n, len(raw), len(m.Bytes()))
				}
			}
		}
	}
}

// TestUncommittedDirectWritesUndone: a crash after the bytes past a
// share's end were written directly but before the journal committed
// leaves the uncommitted journal with its undo records; recovery cuts the
// share back to its old bytes and removes a share the write was creating.
func TestUncommittedDirectWritesUndone(t *testing.T) {
	b := newBackend(t)
	si := bytes.Repeat([]byte{5}, 16)
	sec := MutableSecrets{WriteEnabler: bytes.Repeat([]byte{1}, 32), RenewSecret: bytes.Repeat([]byte{2}, 32), CancelSecret: bytes.Repeat([]byte{3}, 32)}
	if ok, _, err := b.ReadTestWrite(context.Background(), si, sec, map[int]TestWrite{0: {Write: []WriteVector{{0, []byte("old version")}}}}, nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	path := b.sharePath(si, 0)
	before, _ := os.ReadFile(path)
	dir := b.siDir(si)
	recs := []walRecord{{op: walWrite, shnum: 0, offset: uint64(len(before)) + 10, data: bytes.Repeat([]byte{9}, 5000)},
		{op: walWrite, shnum: 1, offset: 600, data: []byte("new share")}}
	sizes := map[int]int64{0: int64(len(before)), 1: -1}
	direct, journal := splitDirect(recs, sizes, nil)
	if len(direct) != 2 || len(journal) != 0 {
		t.Fatalf("%d direct, %d journalled records", len(direct), len(journal))
	}
	if err := writeWAL(filepath.Join(dir, walTemp), append(undoRecords(direct, sizes), journal...)); err != nil {
		t.Fatal(err)
	}
	if err := applyEdits(dir, records(direct)); err != nil {
		t.Fatal(err)
	}
	// The crash: no journal was committed.
	if err := recoverDir(dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, before) {
		t.Fatalf("share 0 is %d bytes after recovery, was %d", len(after), len(before))
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "0" {
		t.Fatalf("left after recovery: %v", ents)
	}
}

// TestFailedDirectWriteUndoneAtOnce: a write whose bytes past a share's
// end fail part way (here: the share it creates cannot be opened) is
// undone before the error returns, not at the next start: the share it
// extended is back at its old bytes and no journal is left.
func TestFailedDirectWriteUndoneAtOnce(t *testing.T) {
	dir := t.TempDir()
	before := bytes.Repeat([]byte("old"), 100)
	if err := os.WriteFile(filepath.Join(dir, "0"), before, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "1"), 0o700); err != nil { // not openable as a file
		t.Fatal(err)
	}
	recs := []walRecord{{op: walWrite, shnum: 0, offset: uint64(len(before)), data: bytes.Repeat([]byte{9}, 5000)},
		{op: walWrite, shnum: 1, offset: 0, data: []byte("new share")}}
	if err := commitEdits(dir, recs, map[int]int64{0: int64(len(before)), 1: -1}, nil); err == nil {
		t.Fatal("write to an unopenable share succeeded")
	}
	after, _ := os.ReadFile(filepath.Join(dir, "0"))
	if !bytes.Equal(after, before) {
		t.Fatalf("share 0 is %d bytes after the failed write, was %d", len(after), len(before))
	}
	for _, n := range []string{walName, walTemp} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Fatalf("%s left after the failed write", n)
		}
	}
}

// TestCommittedJournalFinishedBeforeNextWrite: a journal left committed
// by a write that failed after its commit is applied before the next
// read-test-write reads the shares, so that write sees its edits and
// does not replace the journal, losing them.
func TestCommittedJournalFinishedBeforeNextWrite(t *testing.T) {
	b := newBackend(t)
	si := bytes.Repeat([]byte{6}, 16)
	sec := MutableSecrets{WriteEnabler: bytes.Repeat([]byte{1}, 32), RenewSecret: bytes.Repeat([]byte{2}, 32), CancelSecret: bytes.Repeat([]byte{3}, 32)}
	ctx := context.Background()
	if ok, _, err := b.ReadTestWrite(ctx, si, sec, map[int]TestWrite{0: {Write: []WriteVector{{0, []byte("old version")}}}}, nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	left := []walRecord{{op: walWrite, shnum: 0, offset: container.MutableDataOffset, data: []byte("new")}}
	if err := writeWAL(filepath.Join(b.siDir(si), walName), left); err != nil {
		t.Fatal(err)
	}
	ok, reads, err := b.ReadTestWrite(ctx, si, sec, map[int]TestWrite{1: {Write: []WriteVector{{0, []byte("next")}}}}, []ReadVector{{0, 11}})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got := string(reads[0][0]); got != "new version" {
		t.Fatalf("share 0 reads %q after the left journal, want %q", got, "new version")
	}
	if _, err := os.Stat(filepath.Join(b.siDir(si), walName)); err == nil {
		t.Fatal("the left journal is still there")
	}
}

// TestDeadSpanWritesDirect: once a share is shrunk, a write past the end
// of its data but inside the file (the room before the extra leases)
// goes to the file directly, with no undo record, and leaves the journal
// only the header and leases; cut off before its commit (the crash), it
// leaves the shrunk version readable and recovery removes the journal.
func TestDeadSpanWritesDirect(t *testing.T) {
	b := newBackend(t)
	si := bytes.Repeat([]byte{8}, 16)
	sec := MutableSecrets{WriteEnabler: bytes.Repeat([]byte{1}, 32), RenewSecret: bytes.Repeat([]byte{2}, 32), CancelSecret: bytes.Repeat([]byte{3}, 32)}
	ctx := context.Background()
	short := uint64(100)
	for _, tw := range []TestWrite{{Write: []WriteVector{{0, bytes.Repeat([]byte("o"), 9000)}}}, {NewLength: &short}} {
		if ok, _, err := b.ReadTestWrite(ctx, si, sec, map[int]TestWrite{0: tw}, nil); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	shares, err := b.loadMutables(si)
	if err != nil {
		t.Fatal(err)
	}
	defer shares[0].close()
	tw := map[int]TestWrite{0: {Write: []WriteVector{{100, bytes.Repeat([]byte("n"), 5000)}}}}
	recs, _, err := b.applyWrites(shares, sec, tw)
	if err != nil {
		t.Fatal(err)
	}
	sizes, dead := oldSizes(shares, tw)
	direct, journal := splitDirect(recs, sizes, dead)
	if undo := undoRecords(direct, sizes); len(undo) != 0 {
		t.Fatalf("undo records for writes inside the file: %v", undo)
	}
	var journalled, written uint64
	for _, r := range journal {
		journalled += recLen(r)
	}
	for _, r := range direct {
		written += recLen(r)
	}
	if written != 5000 || journalled > container.MutableDataOffset+100 {
		t.Fatalf("%d bytes direct, %d journalled", written, journalled)
	}
	dir := b.siDir(si)
	if err := writeAhead(dir, journal, direct, false); err != nil {
		t.Fatal(err)
	}
	// The crash: walTemp was never renamed.
	if err := recoverDir(dir); err != nil {
		t.Fatal(err)
	}
	ok, reads, err := b.ReadTestWrite(ctx, si, sec, nil, []ReadVector{{0, 200}})
	if !ok || err != nil || !bytes.Equal(reads[0][0], bytes.Repeat([]byte("o"), 100)) {
		t.Fatalf("after recovery: %v %v, reads %q", ok, err, reads[0])
	}
	if _, err := os.Stat(filepath.Join(dir, walTemp)); err == nil {
		t.Fatal("uncommitted journal left after recovery")
	}
}

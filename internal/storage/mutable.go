package storage

import (
	"bytes"
	"context"
	"maps"
	"os"
	"slices"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// TestVector passes when Size bytes at Offset of the share data (cut at
// its end; empty for a missing share) equal Specimen.
type TestVector struct {
	Offset, Size uint64
	Specimen     []byte
}

// WriteVector writes Data at Offset.
type WriteVector struct {
	Offset uint64
	Data   []byte
}

// TestWrite is what a read-test-write asks of one share: tests, writes,
// and an optional new length (0 deletes the share).
type TestWrite struct {
	Test      []TestVector
	Write     []WriteVector
	NewLength *uint64
}

// ReadVector reads Size bytes at Offset from every share (before writes).
type ReadVector struct{ Offset, Size uint64 }

// MutableSecrets are the client secrets a read-test-write carries.
type MutableSecrets struct {
	WriteEnabler []byte // 32 bytes
	RenewSecret  []byte // 32 bytes
	CancelSecret []byte // 32 bytes
}

// ReadTestWrite is Tahoe's slot_testv_and_readv_and_writev: under the
// storage index's lock it checks the write enabler against every existing
// share (an errkind.Auth error on mismatch, nothing changed), evaluates
// all test vectors, reads rv from every existing share, and only if all
// tests held applies the writes and adds or renews the lease on the
// written shares, all or nothing. It returns whether the tests held and
// the reads by share number.
func (b *Backend) ReadTestWrite(ctx context.Context, si []byte, sec MutableSecrets,
	tw map[int]TestWrite, rv []ReadVector) (bool, map[int][][]byte, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	if err := checkArgs(si, sec.WriteEnabler, sec.RenewSecret, sec.CancelSecret); err != nil {
		return false, nil, err
	}
	for n := range tw {
		if n < 0 || n > MaxShareNumber {
			return false, nil, errkind.E("storage.ReadTestWrite", errkind.Invalid, "share number %d out of range", n)
		}
	}
	unlock := b.lock(si)
	ok, reads, changed, err := b.readTestWriteLocked(si, sec, tw, rv)
	unlock()
	if err == nil && len(changed) > 0 {
		b.notify(si, changed)
	}
	return ok, reads, err
}

func (b *Backend) readTestWriteLocked(si []byte, sec MutableSecrets, tw map[int]TestWrite,
	rv []ReadVector) (bool, map[int][][]byte, []int, error) {
	const op = "storage.ReadTestWrite"
	shares, err := b.loadMutables(si)
	if err != nil {
		return false, nil, nil, err
	}
	for _, m := range shares {
		if !m.CheckWriteEnabler(sec.WriteEnabler) {
			return false, nil, nil, errkind.E(op, errkind.Auth, "write enabler mismatch (recorded by node %x)", m.NodeID)
		}
	}
	reads := map[int][][]byte{}
	for n, m := range shares {
		for _, r := range rv {
			reads[n] = append(reads[n], bytes.Clone(m.ReadAt(r.Offset, r.Size)))
		}
	}
	if !testsHold(shares, tw) {
		return false, reads, nil, nil
	}
	changes, changed, err := b.applyWrites(shares, sec, tw)
	if err != nil {
		return false, nil, nil, err
	}
	if err := b.commit(si, changes); err != nil {
		return false, nil, nil, errkind.E(op, errkind.Other, err)
	}
	return true, reads, changed, nil
}

// loadMutables reads every mutable share of a storage index.
func (b *Backend) loadMutables(si []byte) (map[int]*container.Mutable, error) {
	const op = "storage.loadMutables"
	nums, err := b.shareNumbers(si, container.Unknown)
	if err != nil {
		return nil, err
	}
	out := map[int]*container.Mutable{}
	for _, n := range nums {
		raw, err := os.ReadFile(b.sharePath(si, n))
		if err != nil {
			return nil, errkind.E(op, errkind.Other, err)
		}
		m, err := container.ParseMutable(raw)
		if err != nil {
			return nil, errkind.E(op, errkind.Corrupt, "share %d: %w", n, err)
		}
		out[n] = m
	}
	return out, nil
}

func testsHold(shares map[int]*container.Mutable, tw map[int]TestWrite) bool {
	for n, v := range tw {
		m := shares[n]
		for _, t := range v.Test {
			var got []byte
			if m != nil {
				got = m.ReadAt(t.Offset, t.Size)
			}
			if !bytes.Equal(got, t.Specimen) {
				return false
			}
		}
	}
	return true
}

// applyWrites applies the write vectors in memory and returns the file
// changes to commit and the shares whose data or existence changed.
func (b *Backend) applyWrites(shares map[int]*container.Mutable, sec MutableSecrets,
	tw map[int]TestWrite) ([]change, []int, error) {
	var changes []change
	var changed []int
	lease := container.NewLeaseRequest(sec.RenewSecret, sec.CancelSecret, b.now(), b.nodeID)
	for _, n := range slices.Sorted(maps.Keys(tw)) {
		v, m := tw[n], shares[n]
		if v.NewLength != nil && *v.NewLength == 0 {
			if m != nil {
				changes = append(changes, change{shnum: n})
				changed = append(changed, n)
			}
			continue
		}
		var before []byte
		if m == nil {
			m = container.NewMutable(container.NewestMutableVersion, b.nodeID, [32]byte(sec.WriteEnabler))
		} else {
			before = bytes.Clone(m.Data())
		}
		for _, w := range v.Write {
			if err := m.Write(w.Offset, w.Data); err != nil {
				return nil, nil, err
			}
		}
		if v.NewLength != nil {
			m.Truncate(*v.NewLength)
		}
		m.AddOrRenewLease(lease)
		changes = append(changes, change{shnum: n, data: m.Bytes()})
		if shares[n] == nil || !bytes.Equal(before, m.Data()) {
			changed = append(changed, n)
		}
	}
	return changes, changed, nil
}

// commit makes the changes durable and removes a storage index directory
// left empty, as Tahoe does.
func (b *Backend) commit(si []byte, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	dir := b.siDir(si)
	if err := mkdirSync(dir, b.shares); err != nil {
		return err
	}
	if err := commitChanges(dir, changes); err != nil {
		return err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) == 0 {
		os.Remove(dir)
	}
	return nil
}

// MutableShares lists the mutable share numbers held for a storage index.
func (b *Backend) MutableShares(si []byte) ([]int, error) {
	return b.shareNumbers(si, container.MutableKind)
}

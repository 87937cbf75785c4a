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
	// A journal left by an earlier write that failed after its commit is
	// finished before the shares are read: edits worked out from its torn
	// shares, or a journal written over it, would lose the rest of it.
	if err := replayWAL(b.siDir(si)); err != nil {
		return false, nil, nil, errkind.E(op, errkind.Other, err)
	}
	shares, err := b.loadMutables(si)
	if err != nil {
		return false, nil, nil, err
	}
	defer func() {
		for _, m := range shares {
			m.close()
		}
	}()
	for _, m := range shares {
		if !m.meta.CheckWriteEnabler(sec.WriteEnabler) {
			return false, nil, nil, errkind.E(op, errkind.Auth, "write enabler mismatch (recorded by node %x)", m.meta.NodeID)
		}
	}
	reads := map[int][][]byte{}
	for n, m := range shares {
		for _, r := range rv {
			d, err := m.readAt(r.Offset, r.Size)
			if err != nil {
				return false, nil, nil, err
			}
			reads[n] = append(reads[n], d)
		}
	}
	if ok, err := testsHold(shares, tw); err != nil || !ok {
		return false, reads, nil, err
	}
	recs, changed, err := b.applyWrites(shares, sec, tw)
	if err != nil {
		return false, nil, nil, err
	}
	sizes, dead := oldSizes(shares, tw)
	if err := b.commit(si, recs, sizes, dead); err != nil {
		return false, nil, nil, errkind.E(op, errkind.Other, err)
	}
	return true, reads, changed, nil
}

// loadMutables opens every mutable share of a storage index, reading its
// header and leases but not its data.
func (b *Backend) loadMutables(si []byte) (map[int]*mutableFile, error) {
	const op = "storage.loadMutables"
	nums, err := b.shareNumbers(si, container.Unknown)
	if err != nil {
		return nil, err
	}
	out := map[int]*mutableFile{}
	for _, n := range nums {
		m, err := openMutable(b.sharePath(si, n))
		if err != nil {
			for _, o := range out {
				o.close()
			}
			if errkind.Is(err, errkind.Corrupt) {
				return nil, errkind.E(op, errkind.Corrupt, "share %d: %w", n, err)
			}
			return nil, err
		}
		out[n] = m
	}
	return out, nil
}

func testsHold(shares map[int]*mutableFile, tw map[int]TestWrite) (bool, error) {
	for n, v := range tw {
		m := shares[n]
		for _, t := range v.Test {
			var got []byte
			if m != nil {
				var err error
				if got, err = m.readAt(t.Offset, t.Size); err != nil {
					return false, err
				}
			}
			if !bytes.Equal(got, t.Specimen) {
				return false, nil
			}
		}
	}
	return true, nil
}

// applyWrites works out the file edits of the write vectors and returns
// them with the shares whose data or existence changed.
func (b *Backend) applyWrites(shares map[int]*mutableFile, sec MutableSecrets,
	tw map[int]TestWrite) ([]walRecord, []int, error) {
	var recs []walRecord
	var changed []int
	lease := container.NewLeaseRequest(sec.RenewSecret, sec.CancelSecret, b.now(), b.nodeID)
	for _, n := range slices.Sorted(maps.Keys(tw)) {
		v, m := tw[n], shares[n]
		if v.NewLength != nil && *v.NewLength == 0 {
			if m != nil {
				recs = append(recs, walRecord{op: walDelete, shnum: n})
				changed = append(changed, n)
			}
			continue
		}
		if m == nil {
			m = newMutableFile(b.nodeID, [32]byte(sec.WriteEnabler))
		}
		r, ch, err := m.edits(n, v, lease)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, r...)
		if ch {
			changed = append(changed, n)
		}
	}
	return recs, changed, nil
}

// oldSizes gives the size of each share file a write will change (-1
// for one it creates), and the span of it between the end of the share
// data and the extra leases, which no reader of the old version uses:
// commitEdits writes beyond the one and inside the other directly.
func oldSizes(shares map[int]*mutableFile, tw map[int]TestWrite) (map[int]int64, map[int]span) {
	sizes, dead := map[int]int64{}, map[int]span{}
	for n, v := range tw {
		if v.NewLength != nil && *v.NewLength == 0 {
			continue
		}
		m := shares[n]
		if m == nil {
			sizes[n] = -1
			continue
		}
		sizes[n] = m.size
		dead[n] = span{container.MutableDataOffset + m.dataLen, container.MutableDataOffset + m.capacity}
	}
	return sizes, dead
}

// commit makes the edits durable and removes a storage index directory
// left empty, as Tahoe does.
func (b *Backend) commit(si []byte, recs []walRecord, sizes map[int]int64, dead map[int]span) error {
	if len(recs) == 0 {
		return nil
	}
	dir := b.siDir(si)
	if err := mkdirSync(dir, b.shares); err != nil {
		return err
	}
	if err := commitEdits(dir, recs, sizes, dead); err != nil {
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

package storage

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"os"
	"path/filepath"
	"slices"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// ErrNotInProgress is returned by AbortUpload for a share that is already
// complete (the protocol's 405).
var ErrNotInProgress = errors.New("share upload is not in progress")

type uploadKey struct {
	si    [StorageIndexLen]byte
	shnum int
}

// upload is an immutable share being written in incoming/.
type upload struct {
	secret  []byte
	size    uint64
	path    string
	f       *os.File
	written rangeSet
}

// UploadSecrets are the client secrets of an immutable allocation.
type UploadSecrets struct {
	Upload       []byte
	RenewSecret  []byte // 32 bytes
	CancelSecret []byte // 32 bytes
}

// Allocate is Tahoe's allocate_buckets: it reports every complete share
// already held (adding or renewing the client's lease on each) and starts
// uploads, in incoming/, for the requested shares not held. A share being
// uploaded under the same upload secret is reported as allocated again,
// so retries get the same answer; one being uploaded by another client is
// in neither list. Nothing is allocated if size exceeds the available space.
func (b *Backend) Allocate(si []byte, shnums []int, size uint64, sec UploadSecrets) (already, allocated []int, err error) {
	if err := checkArgs(si, sec.RenewSecret, sec.CancelSecret); err != nil {
		return nil, nil, err
	}
	for _, n := range shnums {
		if n < 0 || n > MaxShareNumber {
			return nil, nil, errkind.E("storage.Allocate", errkind.Invalid, "share number %d out of range", n)
		}
	}
	unlock := b.lock(si)
	defer unlock()
	if already, err = b.shareNumbers(si, container.ImmutableKind); err != nil {
		return nil, nil, err
	}
	if err := b.addLeaseLocked(si, already, sec.RenewSecret, sec.CancelSecret); err != nil {
		return nil, nil, err
	}
	allocated = []int{}
	for _, n := range shnums {
		if slices.Contains(already, n) {
			continue
		}
		ok, err := b.startUpload(si, n, size, sec)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			allocated = append(allocated, n)
		}
	}
	return already, allocated, nil
}

func (b *Backend) startUpload(si []byte, n int, size uint64, sec UploadSecrets) (bool, error) {
	const op = "storage.Allocate"
	key := uploadKey{[StorageIndexLen]byte(si), n}
	b.mu.Lock()
	u := b.uploads[key]
	b.mu.Unlock()
	if u != nil {
		return subtle.ConstantTimeCompare(u.secret, sec.Upload) == 1, nil
	}
	if _, err := os.Stat(b.sharePath(si, n)); err == nil {
		return false, nil // a mutable share with this number: not ours to allocate
	}
	if !b.reserveRoom(size) {
		return false, nil
	}
	reserved := true
	defer func() {
		if reserved { // the upload failed
			b.unreserve(size)
		}
	}()
	path := b.incomingPath(si, n)
	if err := os.MkdirAll(filepath.Dir(path), dirFileMode); err != nil {
		return false, errkind.E(op, errkind.Other, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, errkind.E(op, errkind.Other, err)
	}
	hdr := container.ImmutableHeader(container.NewestImmutableVersion, size)
	hdr[11] = 1 // one lease, written after the data as Tahoe does
	lease := container.ImmutableLeaseRecord(container.NewestImmutableVersion,
		container.NewLeaseRequest(sec.RenewSecret, sec.CancelSecret, b.now(), b.nodeID))
	if _, err := f.WriteAt(hdr, 0); err == nil {
		_, err = f.WriteAt(lease, int64(container.ImmutableHeaderSize+size))
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return false, errkind.E(op, errkind.Other, err)
	}
	b.mu.Lock()
	b.uploads[key] = &upload{secret: bytes.Clone(sec.Upload), size: size, path: path, f: f}
	b.reserving -= size // now counted in b.uploads
	reserved = false
	b.mu.Unlock()
	return true, nil
}

// findUpload returns the upload of a share, checking its secret: an
// errkind.NotFound error if there is none, errkind.Auth if the secret differs.
func (b *Backend) findUpload(si []byte, n int, secret []byte) (*upload, error) {
	const op = "storage.upload"
	b.mu.Lock()
	u := b.uploads[uploadKey{[StorageIndexLen]byte(si), n}]
	b.mu.Unlock()
	if u == nil {
		return nil, errkind.E(op, errkind.NotFound, "no upload in progress for share %d", n)
	}
	if subtle.ConstantTimeCompare(u.secret, secret) != 1 {
		return nil, errkind.E(op, errkind.Auth, "wrong upload secret")
	}
	return u, nil
}

// WriteImmutable writes data at offset into an upload in progress. Data
// overlapping what was already written must match it (errkind.Conflict
// otherwise); data past the allocated size is errkind.Invalid. When the
// last missing byte arrives the share is made durable and moved into
// place, and done is true. It returns the ranges still missing.
func (b *Backend) WriteImmutable(si []byte, n int, secret []byte, offset uint64, data []byte) (done bool, missing []Range, err error) {
	const op = "storage.WriteImmutable"
	if err := checkArgs(si); err != nil {
		return false, nil, err
	}
	unlock := b.lock(si)
	defer unlock()
	u, err := b.findUpload(si, n, secret)
	if err != nil {
		return false, nil, err
	}
	r := Range{offset, offset + uint64(len(data))}
	if r.End < r.Begin || r.End > u.size {
		return false, nil, errkind.E(op, errkind.Invalid, "range %d-%d beyond the allocated %d bytes", r.Begin, r.End, u.size)
	}
	if err := u.checkOverlap(r, data); err != nil {
		return false, nil, err
	}
	at := int64(container.ImmutableHeaderSize + offset)
	if _, err := u.f.WriteAt(data, at); err != nil {
		return false, nil, errkind.E(op, errkind.Other, err)
	}
	startWriteback(u.f, at, int64(len(data)))
	u.written = u.written.add(r)
	missing = u.written.missing(u.size)
	if len(missing) > 0 {
		return false, missing, nil
	}
	return true, missing, b.finishUpload(si, n, u)
}

func (u *upload) checkOverlap(r Range, data []byte) error {
	for _, o := range u.written.overlaps(r) {
		have := make([]byte, o.End-o.Begin)
		if _, err := u.f.ReadAt(have, int64(container.ImmutableHeaderSize+o.Begin)); err != nil {
			return errkind.E("storage.WriteImmutable", errkind.Other, err)
		}
		if !bytes.Equal(have, data[o.Begin-r.Begin:o.End-r.Begin]) {
			return errkind.E("storage.WriteImmutable", errkind.Conflict, "data differs from what was written at %d-%d", o.Begin, o.End)
		}
	}
	return nil
}

// finishUpload fsyncs a complete share and renames it into place.
func (b *Backend) finishUpload(si []byte, n int, u *upload) error {
	const op = "storage.WriteImmutable"
	b.dropUpload(si, n)
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	final := b.sharePath(si, n)
	if err == nil {
		err = mkdirSync(filepath.Dir(final), b.shares)
	}
	if err == nil {
		err = os.Rename(u.path, final)
	}
	if err == nil {
		err = syncDir(filepath.Dir(final))
	}
	b.removeEmptyIncoming(u.path)
	if err != nil {
		os.Remove(u.path)
		return errkind.E(op, errkind.Other, err)
	}
	return nil
}

func (b *Backend) dropUpload(si []byte, n int) {
	b.mu.Lock()
	delete(b.uploads, uploadKey{[StorageIndexLen]byte(si), n})
	b.mu.Unlock()
}

func (b *Backend) removeEmptyIncoming(path string) {
	for d := filepath.Dir(path); d != b.incoming && len(d) > len(b.incoming); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			return
		}
	}
}

// AbortUpload cancels an upload in progress: errkind.NotFound if there is
// none, errkind.Auth for a wrong secret, ErrNotInProgress if the share is
// already complete.
func (b *Backend) AbortUpload(si []byte, n int, secret []byte) error {
	if err := checkArgs(si); err != nil {
		return err
	}
	unlock := b.lock(si)
	defer unlock()
	u, err := b.findUpload(si, n, secret)
	if errkind.Is(err, errkind.NotFound) {
		if have, _ := b.shareNumbers(si, container.ImmutableKind); slices.Contains(have, n) {
			return ErrNotInProgress
		}
	}
	if err != nil {
		return err
	}
	b.dropUpload(si, n)
	u.f.Close()
	os.Remove(u.path)
	b.removeEmptyIncoming(u.path)
	return nil
}

// ImmutableShares lists the complete immutable shares of a storage index.
func (b *Backend) ImmutableShares(si []byte) ([]int, error) {
	return b.shareNumbers(si, container.ImmutableKind)
}

// Close aborts every upload in progress.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, u := range b.uploads {
		u.f.Close()
		os.Remove(u.path)
		delete(b.uploads, k)
	}
	return nil
}

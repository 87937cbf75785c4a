// Package storage is tahoe-watch's storage server: a Backend that keeps
// shares on disk exactly where and how a Tahoe-LAFS 1.20 storage node
// keeps them (BASE/storage/shares/<prefix>/<storage index>/<share number>),
// and an HTTP Server speaking Tahoe's "Great Black Swamp" storage protocol
// over TLS on top of it.
//
// Every change to a storage index happens under that index's lock and is
// crash-safe: share files are replaced by renaming fully written, fsynced
// temporary files, and a read-test-write touching several shares commits
// through a small journal, so a kill -9 at any moment leaves either all
// or none of its writes.
package storage

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// StorageIndexLen is the length of a storage index in bytes.
const StorageIndexLen = 16

// MaxShareNumber is the largest share number accepted (Tahoe's encoding
// has at most 256 shares).
const MaxShareNumber = 255

// checkArgs validates a storage index and 32-byte secrets before use.
func checkArgs(si []byte, secrets ...[]byte) error {
	if len(si) != StorageIndexLen {
		return errkind.E("storage", errkind.Invalid, "storage index is %d bytes, want %d", len(si), StorageIndexLen)
	}
	for _, s := range secrets {
		if len(s) != 32 {
			return errkind.E("storage", errkind.Invalid, "secret is %d bytes, want 32", len(s))
		}
	}
	return nil
}

// Backend owns a storage directory (BASE/storage) laid out as Tahoe's.
// It is safe for concurrent use by one process; two processes must not
// share a storage directory.
type Backend struct {
	dir      string // BASE/storage
	shares   string // BASE/storage/shares
	incoming string // BASE/storage/shares/incoming
	nodeID   [20]byte
	reserved uint64 // bytes kept free for others: [storage] reserved_space
	readOnly bool   // accept no new immutable shares: [storage] readonly
	log      *slog.Logger
	now      func() time.Time

	locks [256]sync.Mutex // striped per storage index

	mu        sync.Mutex
	observers []func(si []byte, shnum int)
	uploads   map[uploadKey]*upload
	reserving uint64 // space granted to allocations not yet in uploads
}

// BackendConfig configures OpenBackend.
type BackendConfig struct {
	Dir    string       // the storage directory, BASE/storage; created if missing
	NodeID [20]byte     // the server id recorded in new containers and leases (the fURL tub id)
	Logger *slog.Logger // nil means slog.Default()
	// ReservedSpace is kept free: immutable allocations that would eat
	// into it are refused, as Tahoe's [storage] reserved_space does.
	ReservedSpace uint64
	// ReadOnly refuses every new immutable share, as Tahoe's
	// [storage] readonly does (mutable writes are still accepted, as
	// in Tahoe).
	ReadOnly bool
}

// OpenBackend opens (creating if needed) a storage directory, discards
// immutable uploads a previous run left unfinished (as Tahoe does) and
// finishes or rolls back any read-test-write a crash interrupted.
func OpenBackend(cfg BackendConfig) (*Backend, error) {
	const op = "storage.OpenBackend"
	b := &Backend{dir: cfg.Dir, shares: filepath.Join(cfg.Dir, "shares"), nodeID: cfg.NodeID,
		reserved: cfg.ReservedSpace, readOnly: cfg.ReadOnly, log: cfg.Logger, now: time.Now, uploads: map[uploadKey]*upload{}}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.incoming = filepath.Join(b.shares, "incoming")
	if err := os.RemoveAll(b.incoming); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	if err := os.MkdirAll(b.incoming, 0o700); err != nil {
		return nil, errkind.E(op, errkind.Usage, "cannot create storage directory: %v", err)
	}
	if err := b.recoverAll(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	return b, nil
}

// Dir returns the storage directory.
func (b *Backend) Dir() string { return b.dir }

// OnMutableChange registers f to be called after every read-test-write
// that changed a mutable share (its data, or its existence) has been made
// durable on disk, once per changed share, with the storage index (16
// bytes, not to be modified) and share number. Calls happen on the
// writing request's goroutine after the storage index is unlocked, in
// commit order per storage index; f must not block for long.
func (b *Backend) OnMutableChange(f func(si []byte, shnum int)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observers = append(b.observers, f)
}

func (b *Backend) notify(si []byte, shnums []int) {
	b.mu.Lock()
	obs := slices.Clone(b.observers)
	b.mu.Unlock()
	for _, n := range shnums {
		for _, f := range obs {
			f(si, n)
		}
	}
}

// lock takes the lock of a storage index and returns its unlock.
func (b *Backend) lock(si []byte) func() {
	m := &b.locks[si[0]]
	m.Lock()
	return m.Unlock
}

// siDir is where the shares of a storage index live.
func (b *Backend) siDir(si []byte) string {
	s := base32.Encode(si)
	return filepath.Join(b.shares, s[:2], s)
}

func (b *Backend) incomingPath(si []byte, shnum int) string {
	s := base32.Encode(si)
	return filepath.Join(b.incoming, s[:2], s, strconv.Itoa(shnum))
}

// shareNumbers lists the share files of a storage index of the given
// kind (container.Unknown for any), in increasing order.
func (b *Backend) shareNumbers(si []byte, kind container.Kind) ([]int, error) {
	if err := checkArgs(si); err != nil {
		return nil, err
	}
	dir := b.siDir(si)
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errkind.E("storage.shareNumbers", errkind.Other, err)
	}
	var out []int
	for _, e := range ents {
		n, ok := parseShnum(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if kind != container.Unknown && fileKind(filepath.Join(dir, e.Name())) != kind {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// parseShnum accepts canonical decimal share numbers.
func parseShnum(name string) (int, bool) {
	n, err := strconv.Atoi(name)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == name
}

func fileKind(path string) container.Kind {
	f, err := os.Open(path)
	if err != nil {
		return container.Unknown
	}
	defer f.Close()
	h := make([]byte, 32)
	n, _ := f.ReadAt(h, 0)
	return container.Detect(h[:n])
}

func (b *Backend) sharePath(si []byte, shnum int) string {
	return filepath.Join(b.siDir(si), strconv.Itoa(shnum))
}

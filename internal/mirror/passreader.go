package mirror

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
)

// passReader is the file being uploaded as the upload reads it. Each
// pass the upload makes over the file (reads from offset 0 on, in
// order, to the end) is hashed as it goes, so the SHA-256 the journal
// keeps costs no read of its own, and two passes that read different
// bytes show the file was edited during the upload.
type passReader struct {
	r    io.ReaderAt
	size int64
	// first is called when the first pass is complete, with its
	// SHA-256; an error from it ends the read (and the upload) there.
	first func(sum string) error
	hook  func(off int64, n int) // tests: after each read

	mu      sync.Mutex
	h       hash.Hash // the pass being read; nil when none is in order
	pos     int64     // where the pass being read has reached
	sums    []string  // SHA-256 of each complete pass
	stopped error     // what first returned
}

// ReadAt reads from the file and hashes what continues the current pass;
// a read at offset 0 begins a new pass.
func (p *passReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hook != nil {
		p.hook(off, n)
	}
	if off == 0 {
		p.h, p.pos = sha256.New(), 0
	}
	if p.h == nil || off != p.pos {
		p.h = nil // out of order: this pass cannot be compared
		return n, err
	}
	p.h.Write(b[:n])
	if p.pos += int64(n); p.pos < p.size {
		return n, err
	}
	p.sums = append(p.sums, hex.EncodeToString(p.h.Sum(nil)))
	p.h = nil
	if len(p.sums) == 1 && p.first != nil {
		if p.stopped = p.first(p.sums[0]); p.stopped != nil {
			return n, p.stopped
		}
	}
	return n, err
}

// consistent reports whether every pass was read whole, in order, and
// all read the same bytes. A pass read out of order proves nothing
// either way, so then only the passes that can be compared are.
func (p *passReader) consistent() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sums) == 0 {
		return false
	}
	for _, s := range p.sums[1:] {
		if s != p.sums[0] {
			return false
		}
	}
	return true
}

// sum is the SHA-256 of the first complete pass ("" if none).
func (p *passReader) sum() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sums) == 0 {
		return ""
	}
	return p.sums[0]
}

// stopReason is the error first ended the read with, or nil.
func (p *passReader) stopReason() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

package mapupdate

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// Source is what an update needs from one storage server: listing and
// reading mutable shares, and reporting bad ones. *grid.Client is one.
type Source interface {
	ListShares(ctx context.Context, kind string, si []byte) ([]uint64, error)
	ReadShare(ctx context.Context, kind string, si []byte, shnum uint64, offset, length int64) ([]byte, error)
	AdviseCorrupt(ctx context.Context, kind string, si []byte, shnum uint64, reason string) error
}

// Server is one server to ask.
type Server struct {
	ID, Name string
	Source   Source // nil if the server cannot be used; Err says why
	Err      error
	// Claimed says Claims are what the server holds (none: it holds no
	// share), as it said elsewhere (a watch acknowledgement): the update
	// does not list its shares and reads only those it needs (see
	// claimedReads). At most MaxClaims are used; with more the server is
	// listed as if it had claimed nothing.
	Claimed bool
	Claims  []Claim
}

// Options tune an update. The zero value is usable.
type Options struct {
	// Timeout bounds each server's part of the update (its listing and
	// reads); a server that does not answer in time is reported as a
	// Timeout and the update goes on without it. Default 30s.
	Timeout time.Duration
	// HeadSize is how many bytes of each share the first read fetches;
	// a second read happens only if the prefix is longer. Default 4 KiB.
	HeadSize int
	// Parallel bounds the servers asked at once. Default 32.
	Parallel int
	// ReadClaimed reads and verifies every claimed share of a version it
	// reads (see claimedReads), not only the one that proves it: for a
	// caller about to retrieve the version, which needs k verified shares.
	ReadClaimed bool
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	if r.HeadSize < mutable.MaxHeaderLen {
		r.HeadSize = 4096
	}
	if r.Parallel <= 0 {
		r.Parallel = 32
	}
	return r
}

// perServerReads bounds the share reads in flight to one server.
const perServerReads = 8

// Update asks every server at once for the shares of c's storage index
// and returns the map. c may be a write, read or verify cap of a mutable
// file or directory. Server failures are recorded in the map, not
// returned: the error is only for a cancelled ctx.
func Update(ctx context.Context, c *cap.Mutable, servers []Server, o *Options) (*Map, error) {
	opts := o.withDefaults()
	u := &updater{si: c.SI, fingerprint: c.Fingerprint, opts: opts, start: time.Now(),
		versions: map[mutable.VersionID]*Version{}, sigs: map[[sha256.Size]byte]*sigCheck{}}
	m := &Map{StorageIndex: c.SI}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	var claimRs []*ServerResult
	var claimSs []Server
	for _, s := range servers {
		r := &ServerResult{ID: s.ID, Name: s.Name, Source: s.Source, Err: s.Err}
		m.Servers = append(m.Servers, r)
		switch {
		case s.Source == nil:
			r.Class = Classify(s.Err)
		case s.Claimed && len(s.Claims) <= MaxClaims:
			claimRs, claimSs = append(claimRs, r), append(claimSs, s)
		default:
			g.Go(func() error { u.server(gctx, r); return nil })
		}
	}
	if len(claimRs) > 0 {
		g.Go(func() error {
			u.claimedReads(gctx, groupClaims(claimRs, claimSs))
			for _, r := range claimRs {
				r.Latency = time.Since(u.start)
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, errkind.E("mapupdate.Update", errkind.Unreachable, err)
	}
	for _, v := range u.versions {
		m.Versions = append(m.Versions, v)
	}
	m.summarize()
	return m, nil
}

// updater holds the state one Update shares between servers.
type updater struct {
	si, fingerprint []byte
	opts            Options
	start           time.Time

	mu       sync.Mutex
	versions map[mutable.VersionID]*Version
	// sigs holds one signature check per distinct signed prefix: the
	// shares of one version carry the same header, key and signature.
	sigs map[[sha256.Size]byte]*sigCheck
}

// sigCheck is the outcome of one signature check, shared by every share
// whose signed prefix, key and signature are byte-for-byte the same.
type sigCheck struct {
	once sync.Once
	pub  *rsa.PublicKey
	ok   bool
}

// server lists and reads the shares of one server, with its deadline.
func (u *updater) server(ctx context.Context, r *ServerResult) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.Timeout)
	defer cancel()
	defer func() { r.Latency = time.Since(u.start) }()
	nums, err := r.Source.ListShares(ctx, grid.Mutable, u.si)
	if err != nil {
		r.Err, r.Class = err, Classify(err)
		return
	}
	for _, n := range nums {
		r.Listed = append(r.Listed, int(n))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(perServerReads)
	var mu sync.Mutex
	for _, n := range nums {
		g.Go(func() error {
			s, err := u.readShare(gctx, r.Source, int(n))
			mu.Lock()
			defer mu.Unlock()
			u.record(ctx, r, int(n), s, err)
			return nil
		})
	}
	g.Wait()
}

// record files a share read under its version, or its failure.
func (u *updater) record(ctx context.Context, r *ServerResult, n int, s *Share, err error) {
	switch {
	case err == nil:
		s.Server = r
		u.add(s)
	case errors.Is(err, ErrInProgress):
		r.InProgress = append(r.InProgress, n) // says nothing bad of the server: no advisory
	case errkind.Is(err, errkind.Corrupt) || errkind.Is(err, errkind.Invalid):
		if r.Corrupt == nil {
			r.Corrupt = map[int]error{}
		}
		r.Corrupt[n] = err
		if r.Class == OK {
			r.Class = CorruptShare
		}
		u.advise(ctx, r.Source, n, err)
	case r.Err == nil:
		r.Err, r.Class = err, Classify(err)
	}
}

// add puts a verified share under its version.
func (u *updater) add(s *Share) {
	u.mu.Lock()
	defer u.mu.Unlock()
	id := s.Prefix.VersionID()
	v := u.versions[id]
	if v == nil {
		v = &Version{ID: id, Prefix: s.Prefix}
		u.versions[id] = v
	}
	v.Shares = append(v.Shares, s)
}

// advise tells the server a share is corrupt; failure to tell is ignored.
func (u *updater) advise(ctx context.Context, src Source, n int, why error) {
	reason := why.Error()
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	src.AdviseCorrupt(ctx, grid.Mutable, u.si, uint64(n), reason)
}

// readShare reads a share's prefix (one request unless it is longer than
// HeadSize) and verifies it.
func (u *updater) readShare(ctx context.Context, src Source, n int) (*Share, error) {
	head, err := src.ReadShare(ctx, grid.Mutable, u.si, uint64(n), 0, int64(u.opts.HeadSize))
	if err != nil {
		return nil, err
	}
	for {
		need, err := mutable.PrefixNeeded(head)
		if err != nil {
			return nil, errkind.E("mapupdate.readShare", errkind.Corrupt, "share %d: %v", n, err)
		}
		if need <= len(head) {
			break
		}
		more, err := src.ReadShare(ctx, grid.Mutable, u.si, uint64(n), int64(len(head)), int64(need-len(head)))
		if err != nil {
			return nil, err
		}
		if len(more) == 0 {
			return nil, errkind.E("mapupdate.readShare", errkind.Corrupt, "share %d ends inside its prefix", n)
		}
		head = append(head, more...)
	}
	p, err := u.verify(n, head)
	if err != nil {
		if h, herr := mutable.ParseHeader(head); herr == nil && mutable.IsProvisional(h) {
			return nil, errkind.E("mapupdate.readShare", errkind.Invalid, "share %d: %w", n, ErrInProgress)
		}
		return nil, err
	}
	// The share hash chain is only proven with the block hash tree's
	// root; check it now if the head holds the tree (small files), so
	// that a tampered chain names its server here, not at retrieval.
	if bht := p.Layout.BlockHashTree; bht.Start >= 0 && bht.End <= int64(len(head)) {
		if _, err := mutable.NewShare(n, p, head[bht.Start:bht.End]); err != nil {
			return nil, errkind.E("mapupdate.readShare", errkind.Corrupt,
				"share %d: its hash chain or block hash tree does not lead to the signed root hash", n)
		}
	}
	return &Share{Num: n, Prefix: p, Head: head}, nil
}

// Reason describes why a share failed verification for a user: the
// innermost message, without the operations it passed through.
func Reason(err error) string {
	for {
		var e *errkind.Error
		if !errors.As(err, &e) || e.Err == nil {
			break
		}
		err = e.Err
	}
	if err == nil {
		return "failed verification"
	}
	return err.Error()
}

// verify verifies share n's prefix, checking each distinct signature
// once per update: a share whose signed prefix, key and signature equal
// one already checked gets that check's answer; everything else
// (structure, share number, fingerprint) is checked for every share.
func (u *updater) verify(n int, head []byte) (*mutable.Prefix, error) {
	p, err := mutable.ParsePrefix(head)
	if err != nil || n < 0 || n >= p.N || !bytes.Equal(hashes.SSKPubkeyFingerprint(p.VerificationKey), u.fingerprint) {
		return mutable.VerifyPrefix(n, head, u.fingerprint) // names the failure
	}
	h := sha256.New()
	for _, b := range [][]byte{p.SignedPrefix(), p.VerificationKey, p.Signature} {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	u.mu.Lock()
	sc := u.sigs[k]
	if sc == nil {
		sc = &sigCheck{}
		u.sigs[k] = sc
	}
	u.mu.Unlock()
	sc.once.Do(func() {
		if v, err := mutable.VerifyPrefix(n, head, u.fingerprint); err == nil {
			sc.pub, sc.ok = v.PublicKey, true
		}
	})
	if !sc.ok {
		return mutable.VerifyPrefix(n, head, u.fingerprint)
	}
	p.PublicKey = sc.pub
	return p, nil
}

// Classify names the class of a failure to talk to a server.
func Classify(err error) Class {
	var pin *grid.PinError
	var se *grid.StatusError
	var ne net.Error
	switch {
	case err == nil:
		return OK
	case errors.As(err, &pin):
		return PinMismatch
	case errors.As(err, &se) && se.Code == 401:
		return Unauthorized
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET):
		return Refused
	case errkind.Is(err, errkind.Corrupt):
		return CorruptShare
	case errkind.Is(err, errkind.Unreachable):
		return Unreachable
	}
	return Failed
}

// String describes a server result in one line.
func (r *ServerResult) String() string {
	s := fmt.Sprintf("%s: %d shares %v in %v", r.Name, len(r.Listed), r.Listed, r.Latency.Round(time.Millisecond))
	if r.Err != nil {
		s += fmt.Sprintf(" [%s: %v]", r.Class, r.Err)
	}
	for n, err := range r.Corrupt {
		s += fmt.Sprintf(" [corrupt share %d: %v]", n, err)
	}
	return s
}

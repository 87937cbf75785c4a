// Package upload stores immutable files on a grid: CHK files, with shares
// placed for Tahoe's servers-of-happiness, and LIT caps for files so small
// that Tahoe keeps them in the cap itself.
package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/chk"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// LITThreshold is the largest file Tahoe-LAFS 1.20 stores as a LIT cap
// rather than uploading it.
const LITThreshold = 55

// batchBudget is the memory the two batches of an upload share among the
// shares being written; each share's part of a batch (one write request)
// is its slice of it, between minBatch and maxBatch bytes (and at least
// one block): 2 MiB per request for 10 shares.
const (
	batchBudget = 40 << 20
	minBatch    = 256 << 10
	maxBatch    = 4 << 20
)

// Storage is what an upload needs from one storage server. *grid.Client
// implements it.
type Storage interface {
	Allocate(ctx context.Context, si []byte, s grid.Secrets, shares []uint64, size uint64) (*grid.Allocation, error)
	WriteShare(ctx context.Context, si []byte, shnum uint64, upload []byte, offset uint64, data []byte) (*grid.UploadProgress, error)
	AbortUpload(ctx context.Context, si []byte, shnum uint64, upload []byte) error
}

// Uploader uploads immutable files to the servers of a grid.
type Uploader struct {
	Grid        *grid.Grid
	Dial        func(*grid.ServerInfo) (Storage, error)
	Convergence []byte // convergence secret: equal files with equal secrets share a cap
	K, Happy, N int    // shares needed, servers of happiness, shares total
	// MaxSegmentSize is 0 for Tahoe's default (1 MiB).
	MaxSegmentSize int
	// LeaseSecret is the client's master lease secret; nil means random.
	LeaseSecret []byte
	// Parallel limits concurrent requests; 0 means 8.
	Parallel int
	// Timeout bounds each request; a server that does not answer in time
	// is treated as failed and its shares go elsewhere. 0 means 30s.
	Timeout time.Duration
}

// call runs f with the per-request timeout.
func (u *Uploader) call(ctx context.Context, f func(ctx context.Context) error) error {
	d := u.Timeout
	if d <= 0 {
		d = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

// Result describes a finished upload.
type Result struct {
	Cap       cap.Cap          // *cap.CHK, or *cap.LIT for small files
	Placed    map[string][]int // share numbers held, by server name (none for LIT)
	Happiness int
}

// Upload stores data and returns its read cap; see UploadFrom.
func (u *Uploader) Upload(ctx context.Context, data []byte) (*Result, error) {
	return u.UploadFrom(ctx, bytes.NewReader(data), int64(len(data)))
}

// UploadFrom stores the size bytes of r and returns their read cap: a LIT
// cap up to LITThreshold bytes, else a CHK cap once at least Happy
// servers hold distinct shares. It reads r twice, as Tahoe's convergent
// encryption requires: once to derive the key (a hash of the whole
// plaintext), then segment by segment to encode, each share's blocks
// written as they are made, so memory does not grow with the file.
// Shares go to servers in Tahoe's permuted order for the file's storage
// index, one per server where there are enough servers; shares a server
// already holds count without being sent again. A server that fails
// while its shares are written loses them; the upload succeeds if the
// others still reach Happy.
func (u *Uploader) UploadFrom(ctx context.Context, r io.ReaderAt, size int64) (*Result, error) {
	const op = "upload.Upload"
	if size < 0 {
		return nil, errkind.E(op, errkind.Usage, "negative size %d", size)
	}
	if size <= LITThreshold {
		data := make([]byte, size)
		if n, err := r.ReadAt(data, 0); int64(n) < size {
			return nil, errkind.E(op, errkind.Other, "reading input: %d of %d bytes: %w", n, size, err)
		}
		return &Result{Cap: &cap.LIT{Data: data}}, nil
	}
	if u.K < 1 || u.K > u.N || u.Happy < 1 || u.Happy > u.N {
		return nil, errkind.E(op, errkind.Usage, "bad encoding: need 1 <= k (%d) <= N (%d) and 1 <= happy (%d) <= N", u.K, u.N, u.Happy)
	}
	st, err := chk.NewStream(r, uint64(size), u.Convergence, chk.Params{K: u.K, N: u.N, MaxSegmentSize: u.MaxSegmentSize})
	if err != nil {
		return nil, errkind.E(op, errkind.KindOf(err), err)
	}
	servers := u.Grid.Permuted(st.StorageIndex())
	if len(servers) < u.Happy {
		return nil, errkind.E(op, errkind.Unreachable, "shares.happy is %d but the grid has only %d reachable servers; lower --shares-happy or add servers", u.Happy, len(servers))
	}
	p := &placer{u: u, st: st, placed: map[*grid.ServerInfo][]int{}, failed: map[*grid.ServerInfo]error{}}
	p.master = u.LeaseSecret
	if p.master == nil {
		p.master = random(32)
	}
	p.place(ctx, servers)
	if err := p.upload(ctx); err != nil {
		return nil, errkind.E(op, errkind.KindOf(err), err)
	}
	res := &Result{Placed: map[string][]int{}}
	for s, nums := range p.placed {
		sort.Ints(nums)
		res.Placed[s.Name()] = nums
	}
	res.Cap = cap.NewCHK(false, st.Key(), p.uebHash, u.K, u.N, uint64(size))
	res.Happiness = publish.Happiness(p.placed)
	return res, nil
}

// upload checks that the allocations reach Happy, writes the shares and
// checks again with the servers that failed meanwhile left out.
func (p *placer) upload(ctx context.Context) error {
	if err := p.happy(ctx); err != nil {
		return err
	}
	if err := p.send(ctx); err != nil {
		p.abortAll()
		return err
	}
	return p.happy(ctx)
}

// happy fails, releasing the allocations, if the shares placed so far do
// not reach Happy distinct servers.
func (p *placer) happy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		p.abortAll()
		return errkind.E("", errkind.Other, err)
	}
	if h := publish.Happiness(p.placed); h < p.u.Happy {
		p.abortAll()
		return errkind.E("", errkind.Unreachable, "shares reached only %d distinct servers, shares.happy is %d%s", h, p.u.Happy, p.failures())
	}
	return nil
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// placer carries out the placement of one upload.
type placer struct {
	u       *Uploader
	st      *chk.Stream
	master  []byte
	buckets []*bucket // allocations to write
	uebHash []byte
	slots   chan struct{} // one per write request in flight

	mu     sync.Mutex
	placed map[*grid.ServerInfo][]int
	failed map[*grid.ServerInfo]error
}

// bucket is the shares one server allocated for this upload.
type bucket struct {
	s      *grid.ServerInfo
	st     Storage
	secret []byte
	nums   []uint64
}

// place offers share i to servers[i mod len], then offers shares that
// found no home to the servers that are left, fewest shares first, for
// as many rounds as it takes to stop making progress.
func (p *placer) place(ctx context.Context, servers []*grid.ServerInfo) {
	want := map[*grid.ServerInfo][]int{}
	for i := range p.u.N {
		s := servers[i%len(servers)]
		want[s] = append(want[s], i)
	}
	for round := 0; len(want) > 0 && round < 4; round++ {
		homeless := p.run(ctx, want)
		if len(homeless) == 0 || ctx.Err() != nil {
			return
		}
		want = p.rehome(homeless, servers)
	}
}

// rehome assigns shares to working servers that do not hold them yet.
func (p *placer) rehome(homeless []int, servers []*grid.ServerInfo) map[*grid.ServerInfo][]int {
	want := map[*grid.ServerInfo][]int{}
	for _, n := range homeless {
		var best *grid.ServerInfo
		for _, s := range servers {
			if _, bad := p.failed[s]; bad || holds(p.placed[s], n) || holds(want[s], n) {
				continue
			}
			if best == nil || len(p.placed[s])+len(want[s]) < len(p.placed[best])+len(want[best]) {
				best = s
			}
		}
		if best != nil {
			want[best] = append(want[best], n)
		}
	}
	return want
}

func holds(nums []int, n int) bool {
	for _, m := range nums {
		if m == n {
			return true
		}
	}
	return false
}

// run allocates and writes shares on each server concurrently and
// returns the shares that found no home.
func (p *placer) run(ctx context.Context, want map[*grid.ServerInfo][]int) []int {
	var homeless []int
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.u.parallel())
	for s, nums := range want {
		g.Go(func() error {
			held, err := p.server(gctx, s, nums)
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.failed[s] = err
			}
			p.placed[s] = append(p.placed[s], held...)
			for _, n := range nums {
				if !holds(held, n) {
					homeless = append(homeless, n)
				}
			}
			return nil
		})
	}
	g.Wait()
	sort.Ints(homeless)
	return homeless
}

func (u *Uploader) parallel() int {
	if u.Parallel > 0 {
		return u.Parallel
	}
	return 8
}

// server allocates nums on s. It returns the shares s holds or will
// hold once they are written.
func (p *placer) server(ctx context.Context, s *grid.ServerInfo, nums []int) ([]int, error) {
	st, err := p.u.Dial(s)
	if err != nil {
		return nil, err
	}
	id := s.WriteEnablerID()
	if id == nil {
		return nil, fmt.Errorf("server %s has no server id for lease secrets", s.Name())
	}
	si := p.st.StorageIndex()
	secret := random(32)
	sec := grid.Secrets{
		Upload:      secret,
		LeaseRenew:  hashes.BucketRenewalSecret(hashes.FileRenewalSecret(hashes.ClientRenewalSecret(p.master), si), id),
		LeaseCancel: hashes.BucketCancelSecret(hashes.FileCancelSecret(hashes.ClientCancelSecret(p.master), si), id),
	}
	req := make([]uint64, len(nums))
	for i, n := range nums {
		req[i] = uint64(n)
	}
	var alloc *grid.Allocation
	err = p.u.call(ctx, func(ctx context.Context) (err error) {
		alloc, err = st.Allocate(ctx, si, sec, req, p.st.ShareSize())
		return err
	})
	if err != nil {
		return nil, err
	}
	// A server's answer counts only for share numbers it was asked
	// about, each once: a hostile one claims no other shares.
	var held []int
	var write []uint64
	for _, n := range alloc.AlreadyHave {
		if slices.Contains(req, n) && !holds(held, int(n)) {
			held = append(held, int(n))
		}
	}
	for _, n := range alloc.Allocated {
		if slices.Contains(req, n) && !holds(held, int(n)) {
			held = append(held, int(n))
			write = append(write, n)
		}
	}
	if len(write) > 0 {
		p.mu.Lock()
		p.buckets = append(p.buckets, &bucket{s: s, st: st, secret: secret, nums: write})
		p.mu.Unlock()
	}
	return held, nil
}

// abortAll releases every allocation not yet written (best effort: the
// server expires them anyway).
func (p *placer) abortAll() {
	for _, b := range p.buckets {
		p.abort(b)
	}
	p.buckets = nil
}

// abort releases b's allocations.
func (p *placer) abort(b *bucket) {
	ctx := context.Background()
	for _, n := range b.nums {
		p.u.call(ctx, func(ctx context.Context) error { return b.st.AbortUpload(ctx, p.st.StorageIndex(), n, b.secret) })
	}
}

func (p *placer) failures() string {
	p.mu.Lock() // batches still in flight may be adding to failed
	defer p.mu.Unlock()
	if len(p.failed) == 0 {
		return " (servers refused shares)"
	}
	var parts []string
	for s, err := range p.failed {
		parts = append(parts, s.Name()+": "+err.Error())
	}
	sort.Strings(parts)
	return "; failed: " + strings.Join(parts, "; ")
}

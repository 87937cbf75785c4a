package retrieve

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// windowBytes is about how much of each share one request fetches: a
// run of consecutive blocks. windowTotal caps it over the k shares read,
// so that a wide encoding (k = 16) fetches smaller runs. Memory is two
// windows (one decoding, one fetched ahead), whatever the file size.
const (
	windowBytes = 1 << 20
	windowTotal = 4 << 20
)

// maxPrealloc bounds each buffer made from the header's sizes before any
// share bytes arrive. A signed header may claim any size (the writer is
// a peer too), so a window larger than this (only an SDMF file's single
// segment can be) is read into buffers that grow as bytes arrive and
// decoded into buffers sized by the verified blocks, as before pooling.
const maxPrealloc = 8 << 20

// candidate is one share of the version on one server.
type candidate struct {
	mapupdate.Share
	share *mutable.Share // set once its block hash tree is proven
	bad   bool
}

// mutableReader streams one version of a mutable file.
type mutableReader struct {
	si      []byte
	h       *mutable.Header
	dec     *mutable.Decoder
	cands   []*candidate
	active  []*candidate
	timeout time.Duration
	report  *Report
	bufs    *bufPool // one window of one share's bytes each
}

// intoReader is a Source that can read share bytes into the caller's
// buffer (*grid.Client can), so that window buffers are reused.
type intoReader interface {
	ReadShareInto(ctx context.Context, kind string, si []byte, shnum uint64, offset int64, buf []byte) ([]byte, error)
}

// bufPool recycles equal-sized buffers. It keeps at most cap(free); a
// buffer asked for when none is free is made, one given back when the
// pool is full is left to the garbage collector.
type bufPool struct {
	size int
	free chan []byte
}

func newBufPool(size, keep int) *bufPool {
	return &bufPool{size: size, free: make(chan []byte, keep)}
}

func (p *bufPool) get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, p.size)
	}
}

func (p *bufPool) put(b []byte) {
	if p == nil || cap(b) < p.size {
		return
	}
	select {
	case p.free <- b[:p.size]:
	default:
	}
}

// Mutable verifies, decodes and decrypts version v (from a map update)
// and writes its plaintext to w, segment by segment. It reads k shares
// in parallel, preferring the fastest servers, checks every block
// against the hash trees, and switches to another share whenever one
// fails. Corrupt shares are reported to their server and in the Report;
// shares a writer replaced during the read only in the Report.
func Mutable(ctx context.Context, w io.Writer, readkey []byte, si []byte, v *mapupdate.Version, o *Options) (*Report, error) {
	const op = "retrieve.Mutable"
	opts := o.withDefaults()
	dec, err := mutable.NewDecoder(&v.Prefix.Header, readkey)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	r := &mutableReader{si: si, h: &v.Prefix.Header, dec: dec, timeout: opts.Timeout,
		report: &Report{Seqnum: v.ID.Seqnum, Used: map[int]string{}}}
	r.order(v.Shares)
	if err := r.fill(ctx); err != nil {
		return r.report, err
	}
	if err := r.windows(ctx, w); err != nil {
		return r.report, err
	}
	for _, c := range r.active {
		r.report.Used[c.Num] = c.Server.Name
	}
	return r.report, nil
}

// order ranks the candidates: fastest servers first, in bands as wide
// as the fastest server's latency (at least 5 ms), then primary shares,
// which decode with no erasure arithmetic, then by share number. A map
// update's latency includes connection setup and is noisy (a fresh
// process's TLS handshakes on a busy machine), so servers within one
// band count as equally fast rather than trading a primary share for a
// secondary one over a few milliseconds.
func (r *mutableReader) order(shares []*mapupdate.Share) {
	unit := time.Duration(math.MaxInt64)
	for _, s := range shares {
		r.cands = append(r.cands, &candidate{Share: *s})
		unit = min(unit, s.Server.Latency)
	}
	unit = max(unit, 5*time.Millisecond)
	band := func(c *candidate) time.Duration { return c.Server.Latency / unit }
	slices.SortStableFunc(r.cands, func(a, b *candidate) int {
		if c := cmp.Compare(band(a), band(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Num, b.Num) // primary shares have the low numbers
	})
}

// fill activates candidates until k distinct shares are active.
func (r *mutableReader) fill(ctx context.Context) error {
	for _, c := range r.cands {
		if len(r.active) == r.h.K {
			return nil
		}
		if c.bad || r.isActive(c.Num) {
			continue
		}
		if err := r.activate(ctx, c); err != nil {
			r.fail(ctx, c, err)
			continue
		}
		r.active = append(r.active, c)
	}
	if len(r.active) < r.h.K {
		return errkind.E("retrieve.Mutable", errkind.Unrecoverable,
			"seqnum %d: only %d good shares of the %d needed%s", r.h.Seqnum, len(r.active), r.h.K, r.report.badSummary())
	}
	return nil
}

func (r *mutableReader) isActive(num int) bool {
	return slices.ContainsFunc(r.active, func(c *candidate) bool { return c.Num == num })
}

// activate reads and proves a candidate's block hash tree.
func (r *mutableReader) activate(ctx context.Context, c *candidate) error {
	bht, err := r.fetch(ctx, c, r.h.Layout.BlockHashTree)
	if err != nil {
		return err
	}
	c.share, err = mutable.NewShare(c.Num, c.Prefix, bht)
	return err
}

// fetch reads a region of a share, from the head read at map time when
// it holds it.
func (r *mutableReader) fetch(ctx context.Context, c *candidate, reg mutable.Region) ([]byte, error) {
	b, _, err := r.fetchInto(ctx, c, reg, nil)
	return b, err
}

// fetchInto is fetch reading into a buffer of pool, when pool is not nil
// and the head does not hold the region. It returns the buffer for the
// caller to give back (nil if none was used, or on error).
func (r *mutableReader) fetchInto(ctx context.Context, c *candidate, reg mutable.Region, pool *bufPool) (b, buf []byte, err error) {
	if reg.End <= int64(len(c.Head)) {
		return c.Head[reg.Start:reg.End], nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if src, ok := c.Server.Source.(intoReader); ok && pool != nil && reg.Len() <= int64(pool.size) {
		buf = pool.get()
		b, err = src.ReadShareInto(ctx, grid.Mutable, r.si, uint64(c.Num), reg.Start, buf[:reg.Len()])
	} else {
		b, err = c.Server.Source.ReadShare(ctx, grid.Mutable, r.si, uint64(c.Num), reg.Start, reg.Len())
	}
	if err == nil && int64(len(b)) != reg.Len() {
		err = errkind.E("retrieve.fetch", errkind.Corrupt, "share %d: read %d bytes at %d, want %d", c.Num, len(b), reg.Start, reg.Len())
	}
	if err != nil {
		pool.put(buf)
		return nil, nil, err
	}
	return b, buf, nil
}

// fail drops a candidate and reports it. A share that failed
// verification is reported to its server as corrupt unless it has since
// been replaced by another version (see replaced): a writer's new shares
// are not corrupt, and reporting them would send operators hunting for
// damage that is not there.
func (r *mutableReader) fail(ctx context.Context, c *candidate, err error) {
	c.bad = true
	r.active = slices.DeleteFunc(r.active, func(a *candidate) bool { return a == c })
	if k := errkind.KindOf(err); k == errkind.Corrupt || k == errkind.Invalid {
		if changed := r.replaced(ctx, c); changed != nil {
			err = changed
		} else {
			advise(ctx, c.Server.Source, grid.Mutable, r.si, c.Num, err)
		}
	}
	r.report.Bad = append(r.report.Bad, BadShare{Server: c.Server.Name, Num: c.Num, Err: err})
}

// replaced reads c's signed header prefix (version, seqnum, root hash,
// encoding) again and returns an errkind.Conflict error if the share now
// holds another version than the one being read, or is gone: a concurrent
// writer replaced it between the map update and the block reads. It
// returns nil when the prefix is unchanged or cannot be read. A header
// damaged in place also reads as changed here; the next map update
// verifies its signature and reports it then.
func (r *mutableReader) replaced(ctx context.Context, c *candidate) error {
	const op = "retrieve.Mutable"
	want := r.h.SignedPrefix()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	got, err := c.Server.Source.ReadShare(ctx, grid.Mutable, r.si, uint64(c.Num), 0, mutable.MaxHeaderLen)
	switch {
	case errkind.Is(err, errkind.NotFound):
		return errkind.E(op, errkind.Conflict, "share %d was removed during the read", c.Num)
	case err != nil || bytes.HasPrefix(got, want):
		return nil
	}
	seq := "another version"
	if h, err := mutable.ParseHeader(got); err == nil {
		seq = fmt.Sprintf("seqnum %d", h.Seqnum)
	}
	return errkind.E(op, errkind.Conflict, "share %d was replaced by %s during the read of seqnum %d", c.Num, seq, r.h.Seqnum)
}

// gathered is one window's verified blocks.
type gathered struct {
	seg, end int
	blocks   map[int][][]byte
	salts    [][]byte
	bufs     [][]byte // the pool buffers blocks alias, given back once decoded
	err      error
}

// windows reads the version window by window, one ahead: the next
// window's blocks are fetched and verified while the current one's
// segments are decoded, in parallel, and written. Gathers run one at a
// time, so only they touch the candidates and the report. The buffers
// are made once and reused: k shares' bytes for each of the two windows
// alive at a time (one decoding, one fetched ahead) and one window of
// plaintext, so memory is the same for any file size.
func (r *mutableReader) windows(ctx context.Context, w io.Writer) error {
	nseg := r.h.NumSegments()
	if nseg == 0 {
		return nil
	}
	window := int(max(1, min(windowBytes, windowTotal/int64(r.h.K))/r.h.BlockRegion(0).Len()))
	window = min(window, nseg)
	if n := r.h.BlockRegion(window-1).End - r.h.BlockRegion(0).Start; n <= maxPrealloc {
		r.bufs = newBufPool(int(n), 2*r.h.K)
	}
	var out []byte
	if n := int64(window) * r.h.SegmentSize; n <= maxPrealloc {
		out = make([]byte, n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := func(seg int) chan gathered {
		ch := make(chan gathered, 1)
		end := min(seg+window, nseg)
		go func() { ch <- r.gather(ctx, seg, end) }()
		return ch
	}
	pending := start(0)
	for pending != nil {
		g := <-pending
		if g.err != nil {
			return g.err
		}
		pending = nil
		if g.end < nseg {
			pending = start(g.end)
		}
		err := r.decodeWindow(w, out, g)
		for _, b := range g.bufs {
			r.bufs.put(b)
		}
		if err != nil {
			cancel()
			if pending != nil {
				<-pending // the gather touches the report: let it end first
			}
			return err
		}
	}
	return nil
}

// decodeWindow decodes a window's segments in parallel into out and
// writes them to w; with no out, into buffers of their own.
func (r *mutableReader) decodeWindow(w io.Writer, out []byte, g gathered) error {
	if out == nil {
		return r.decodeEach(w, g)
	}
	var eg errgroup.Group
	eg.SetLimit(runtime.GOMAXPROCS(0))
	segsize := int(r.h.SegmentSize)
	for s := g.seg; s < g.end; s++ {
		eg.Go(func() error {
			byNum := make(map[int][]byte, r.h.K)
			for num, bs := range g.blocks {
				byNum[num] = bs[s-g.seg]
			}
			_, err := r.dec.SegmentTo(out[(s-g.seg)*segsize:], s, g.salts[s-g.seg], byNum)
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	n := (g.end-1-g.seg)*segsize + r.h.SegmentLen(g.end-1)
	if _, err := w.Write(out[:n]); err != nil {
		return errkind.E("retrieve.Mutable", errkind.Other, err)
	}
	return nil
}

// decodeEach is decodeWindow for segments too large to preallocate for.
func (r *mutableReader) decodeEach(w io.Writer, g gathered) error {
	for s := g.seg; s < g.end; s++ {
		byNum := make(map[int][]byte, r.h.K)
		for num, bs := range g.blocks {
			byNum[num] = bs[s-g.seg]
		}
		pt, err := r.dec.Segment(s, g.salts[s-g.seg], byNum)
		if err != nil {
			return err
		}
		if _, err := w.Write(pt); err != nil {
			return errkind.E("retrieve.Mutable", errkind.Other, err)
		}
	}
	return nil
}

// gather fetches and verifies the blocks of segments [seg, end) from k
// shares, replacing shares that fail until k succeed or none are left.
func (r *mutableReader) gather(ctx context.Context, seg, end int) gathered {
	g := gathered{seg: seg, end: end, blocks: map[int][][]byte{}}
	for {
		var todo []*candidate
		for _, c := range r.active {
			if g.blocks[c.Num] == nil {
				todo = append(todo, c)
			}
		}
		results := r.fetchWindows(ctx, todo, seg, end)
		for i, c := range todo {
			res := results[i]
			if res.err != nil {
				r.fail(ctx, c, res.err)
				continue
			}
			g.blocks[c.Num] = res.blocks
			g.salts = res.salts
			if res.buf != nil {
				g.bufs = append(g.bufs, res.buf)
			}
		}
		if len(g.blocks) >= r.h.K {
			return g
		}
		if err := ctx.Err(); err != nil {
			return gathered{err: errkind.E("retrieve.Mutable", errkind.Unreachable, err)}
		}
		if err := r.fill(ctx); err != nil {
			return gathered{err: err}
		}
	}
}

type windowResult struct {
	blocks, salts [][]byte
	buf           []byte // the pool buffer they alias, if any
	err           error
}

// fetchWindows reads and verifies the window from each share in parallel.
func (r *mutableReader) fetchWindows(ctx context.Context, cs []*candidate, seg, end int) []windowResult {
	out := make([]windowResult, len(cs))
	var g errgroup.Group
	for i, c := range cs {
		g.Go(func() error {
			out[i] = r.fetchWindow(ctx, c, seg, end)
			return nil
		})
	}
	g.Wait()
	return out
}

func (r *mutableReader) fetchWindow(ctx context.Context, c *candidate, seg, end int) windowResult {
	first, last := r.h.BlockRegion(seg), r.h.BlockRegion(end-1)
	b, buf, err := r.fetchInto(ctx, c, mutable.Region{Start: first.Start, End: last.End}, r.bufs)
	if err != nil {
		return windowResult{err: err}
	}
	res := windowResult{buf: buf}
	for s := seg; s < end; s++ {
		reg := r.h.BlockRegion(s)
		salt, block, err := c.share.VerifyBlock(s, b[reg.Start-first.Start:reg.End-first.Start])
		if err != nil {
			r.bufs.put(buf)
			return windowResult{err: err}
		}
		res.blocks = append(res.blocks, block)
		res.salts = append(res.salts, salt)
	}
	return res
}

// BadShare is a share a read gave up on.
type BadShare struct {
	Server string
	Num    int
	Err    error
}

// Report says how a read went.
type Report struct {
	Seqnum uint64         // mutable files: the version read
	Used   map[int]string // share number → server, for the shares read
	Bad    []BadShare
}

func (r *Report) badSummary() string {
	if len(r.Bad) == 0 {
		return ""
	}
	s := fmt.Sprintf("; %d shares failed:", len(r.Bad))
	for _, b := range r.Bad {
		s += fmt.Sprintf(" share %d on %s: %v;", b.Num, b.Server, b.Err)
	}
	return s[:len(s)-1]
}

// advise tells a server that a share is corrupt, ignoring failures.
func advise(ctx context.Context, src Source, kind string, si []byte, num int, why error) {
	reason := why.Error()
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	src.AdviseCorrupt(ctx, kind, si, uint64(num), reason)
}

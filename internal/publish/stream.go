package publish

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// streamMin is the smallest MDMF file published as a stream; smaller
// ones are encoded whole, in the requests the real-grid captures pin.
var streamMin int64 = 8 << 20

// batchBytes bounds the encoded bytes (all shares) of one batch of
// segments: the unit that is read, encoded and sent together. Two
// batches are alive at a time (one encoding, one sending), which with
// the plaintext bounds a streamed publish's memory.
var batchBytes = 8 << 20

// CreateFrom is Create for size bytes read from r. An MDMF file of at
// least 8 MiB is read, encoded and sent segment by segment in memory
// independent of its size; others are read whole first.
func (p *Publisher) CreateFrom(ctx context.Context, priv *rsa.PrivateKey, r io.Reader, size int64, prm Params) (*Result, error) {
	const op = "publish.Create"
	w, ep, err := p.createWriter(op, priv, prm)
	if err != nil {
		return nil, err
	}
	return w.streamOrEncode(ctx, op, priv, r, size, ep)
}

// UpdateFrom is Update for size bytes read from r, streamed as
// CreateFrom streams.
func (p *Publisher) UpdateFrom(ctx context.Context, m *Map, r io.Reader, size int64) (*Result, error) {
	const op = "publish.Update"
	w, priv, ep, err := p.updateWriter(ctx, op, m)
	if err != nil {
		return nil, err
	}
	return w.streamOrEncode(ctx, op, priv, r, size, ep)
}

func (w *writer) streamOrEncode(ctx context.Context, op string, priv *rsa.PrivateKey, r io.Reader, size int64, ep mutable.Params) (*Result, error) {
	if ep.Version != mutable.MDMF || size < streamMin {
		plain := make([]byte, size)
		if _, err := io.ReadFull(r, plain); err != nil {
			return nil, errkind.E(op, errkind.Other, "reading input: %w", err)
		}
		return w.encodeRun(ctx, op, priv, plain, ep)
	}
	s, err := mutable.NewStream(priv, size, ep)
	if err != nil {
		return nil, errkind.E(op, errkind.KindOf(err), err)
	}
	w.start()
	w.k, w.n = ep.K, ep.N
	sw := &streamWriter{w: w, s: s, h: s.Header()}
	if err := sw.run(ctx, r); err != nil {
		if errors.Is(err, errLeadConflict) || errkind.Is(err, errkind.Unreachable) {
			return nil, w.leadError(op, err)
		}
		return nil, errkind.E(op, errkind.KindOf(err), err)
	}
	return w.result(ctx, op)
}

// streamWriter publishes one MDMF version as a stream. Each server's
// shares are written in one read-test-write per batch of segments: the
// first tests what the shares hold now and writes, with the first
// blocks, a provisional checkstring (our seqnum, a random root) that
// every later request tests, so that no other writer's requests
// interleave with ours; the last writes the real signed prefix, keys,
// hash chain and block hash tree. The lead server's first request passes
// before any other server's is sent (one seqnum per publish); a server
// that fails midway is dropped, as Tahoe's publisher drops it.
type streamWriter struct {
	slots chan struct{} // one per live batch
	w     *writer
	s     *mutable.Stream
	h     *mutable.Header
	prov  []byte // the provisional checkstring
	live  []*streamServer
}

type streamServer struct {
	pl   *placement
	st   Storage
	sec  grid.Secrets
	nums []int
}

// batch is the blocks of consecutive segments, by share, contiguous.
type batch struct {
	first   int      // first segment
	shares  [][]byte // by share number
	err     error
	pending atomic.Int32 // servers yet to send it
}

// maxBatches bounds the batches alive at once (being encoded, queued or
// in flight to some server): what bounds a streamed publish's memory.
const maxBatches = 2

func (sw *streamWriter) run(ctx context.Context, r io.Reader) error {
	// The provisional header is the real one but for a random root
	// hash: it claims our seqnum and states the encoding and layout, so
	// that a writer finding only unfinished shares can still replace
	// them.
	sw.prov = sw.s.ProvisionalHeader()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw.slots = make(chan struct{}, maxBatches)
	batches := make(chan *batch)
	go sw.encode(ctx, r, batches)
	b0, ok := <-batches
	if !ok || b0.err != nil {
		return batchErr(b0)
	}
	if err := sw.firstBatch(ctx, b0); err != nil {
		return err
	}
	<-sw.slots // b0 is done
	if err := sw.pipeline(ctx, batches); err != nil {
		return err
	}
	f, err := sw.s.Finish()
	if err != nil {
		return err
	}
	sw.sendAll(ctx, func(ss *streamServer) error { return sw.finish(ctx, ss, f) })
	return ctx.Err()
}

// pipelineDepth is how many batches may queue for one server: each
// server sends at its own pace (no barrier per batch); maxBatches bounds
// the batches alive over all servers.
const pipelineDepth = 2

// pipeline sends every later batch to every live server, each server on
// its own goroutine, one batch per request, and drops the servers that
// failed. (Sending two queued batches per request means fewer requests,
// each costing the server its fsyncs, but in a measurement, 3 live
// batches and groups of 2, it raised a 1 GiB put's peak RSS from ~100 to
// 213 MiB for a cause not found yet.)
func (sw *streamWriter) pipeline(ctx context.Context, batches <-chan *batch) error {
	queues := make([]chan *batch, len(sw.live))
	errs := make([]error, len(sw.live))
	var wg sync.WaitGroup
	for i, ss := range sw.live {
		queues[i] = make(chan *batch, pipelineDepth)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range queues[i] { // a failed server keeps draining its queue
				if errs[i] == nil {
					errs[i] = sw.send(ctx, ss, b)
				}
				sw.sent(b)
			}
		}()
	}
	var encErr error
	for b := range batches {
		if b.err != nil {
			encErr = b.err
			break
		}
		b.pending.Store(int32(len(queues)) + 1)
		for _, q := range queues {
			q <- b
		}
		sw.sent(b) // the +1: no server may free it before all have it
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	sw.drop(errs)
	return encErr
}

// sent notes that one more server is done with b, freeing its slot after
// the last.
func (sw *streamWriter) sent(b *batch) {
	if b.pending.Add(-1) == 0 {
		<-sw.slots
	}
}

func batchErr(b *batch) error {
	if b == nil {
		return errors.New("no segments encoded")
	}
	return b.err
}

// encode reads and encodes batches of segments in order, the segments
// of a batch in parallel.
func (sw *streamWriter) encode(ctx context.Context, r io.Reader, out chan<- *batch) {
	defer close(out)
	h := sw.h
	per := max(1, batchBytes/(h.N*(h.BlockLen(0)+mutable.SaltLen)))
	plain := make([]byte, int64(per)*h.SegmentSize)
	for first := 0; first < h.NumSegments(); first += per {
		select {
		case sw.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		b := sw.encodeBatch(r, plain, first, min(first+per, h.NumSegments()))
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.err != nil {
			return
		}
	}
}

// encodeBatch reads segments [first, last) into plain and encodes them.
func (sw *streamWriter) encodeBatch(r io.Reader, plain []byte, first, last int) *batch {
	h := sw.h
	b := &batch{first: first, shares: make([][]byte, h.N)}
	start := int64(first) * h.SegmentSize
	n := int64(last-1)*h.SegmentSize + int64(h.SegmentLen(last-1)) - start
	if _, err := io.ReadFull(r, plain[:n]); err != nil {
		b.err = errkind.E("", errkind.Other, "reading input at segment %d: %w", first, err)
		return b
	}
	base := h.BlockRegion(first).Start
	size := h.BlockRegion(last-1).End - base
	for i := range b.shares {
		b.shares[i] = make([]byte, size)
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for seg := first; seg < last; seg++ {
		g.Go(func() error {
			at := int64(seg-first) * h.SegmentSize
			reg := h.BlockRegion(seg)
			dst := make([][]byte, h.N)
			for i := range dst {
				dst[i] = b.shares[i][reg.Start-base : reg.End-base]
			}
			return sw.s.EncodeInto(seg, plain[at:at+int64(h.SegmentLen(seg))], dst)
		})
	}
	b.err = g.Wait()
	return b
}

// firstBatch sends the first batch to a lead server, then to the others.
func (sw *streamWriter) firstBatch(ctx context.Context, b *batch) error {
	w := sw.w
	var rest []*placement
	for i, pl := range w.plan {
		if len(pl.shares) == 0 {
			continue
		}
		ss, err := sw.open(pl)
		if err == nil {
			err = sw.first(ctx, ss, b, true)
		}
		if errors.Is(err, errLeadConflict) {
			return err
		}
		if err == nil {
			rest = w.plan[i+1:]
			break
		}
		sw.fail(pl, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(sw.live) == 0 {
		return errkind.E("", errkind.Unreachable, "no server accepted version %d%s", w.seqnum, w.failures())
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pl := range rest {
		if len(pl.shares) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss, err := sw.open(pl)
			if err == nil {
				err = sw.first(ctx, ss, b, false)
			}
			if err != nil {
				sw.fail(pl, err)
				return
			}
			if len(ss.nums) > 0 {
				mu.Lock()
				sw.live = append(sw.live, ss)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return nil
}

func (sw *streamWriter) open(pl *placement) (*streamServer, error) {
	st, err := sw.w.p.Dial(pl.server)
	if err != nil {
		return nil, err
	}
	sec, err := secrets(sw.w.c, sw.w.master, pl.server)
	if err != nil {
		return nil, err
	}
	return &streamServer{pl: pl, st: st, sec: sec}, nil
}

// fail records a server that failed; its shares are lost to this
// version.
func (sw *streamWriter) fail(pl *placement, err error) {
	w := sw.w
	w.mu.Lock()
	w.failed[pl.server] = err
	w.mu.Unlock()
}

// first sends a server's first request, retesting shares that held an
// older version than the map saw, as writeServer does. The lead's is
// appended to live here.
func (sw *streamWriter) first(ctx context.Context, ss *streamServer, b *batch, lead bool) error {
	nums, err := sw.w.firstWrite(ctx, ss.st, ss.sec, ss.pl, lead, func(n int, cs []byte) grid.TestWrite {
		return sw.firstWrite(n, b, testVector(cs))
	})
	if err != nil {
		return err
	}
	ss.nums = nums
	if lead {
		sw.live = append(sw.live, ss)
	}
	return nil
}

// firstWrite is share n's test and write for the first batch b: the
// provisional checkstring and b's blocks at their place, the share cut
// to end with them (see shrinkTo).
func (sw *streamWriter) firstWrite(n int, b *batch, test grid.TestVector) grid.TestWrite {
	blocks := sw.blocks(n, b)
	return grid.TestWrite{Test: []grid.TestVector{test},
		Write:     []grid.WriteVector{{Offset: 0, Data: sw.prov}, blocks},
		NewLength: shrinkTo(blocks.Offset + uint64(len(blocks.Data)))}
}

// blocks writes share n's blocks of batch b at their place.
func (sw *streamWriter) blocks(n int, b *batch) grid.WriteVector {
	return grid.WriteVector{Offset: uint64(sw.h.BlockRegion(b.first).Start), Data: b.shares[n]}
}

// provTest tests that a share holds our provisional checkstring.
func (sw *streamWriter) provTest() grid.TestVector {
	return grid.TestVector{Offset: 0, Size: uint64(len(sw.prov)), Specimen: sw.prov}
}

// send writes a later batch to one server in one request.
func (sw *streamWriter) send(ctx context.Context, ss *streamServer, b *batch) error {
	tw := map[uint64]grid.TestWrite{}
	for _, n := range ss.nums {
		tw[uint64(n)] = grid.TestWrite{Test: []grid.TestVector{sw.provTest()}, Write: []grid.WriteVector{sw.blocks(n, b)}}
	}
	return sw.request(ctx, ss, tw)
}

// finish writes the prefix, keys, chain and block hash tree.
func (sw *streamWriter) finish(ctx context.Context, ss *streamServer, f *mutable.Finished) error {
	tw := map[uint64]grid.TestWrite{}
	eof := uint64(f.Header.Layout.EOF)
	for _, n := range ss.nums {
		tw[uint64(n)] = grid.TestWrite{Test: []grid.TestVector{sw.provTest()},
			Write: []grid.WriteVector{{Offset: 0, Data: f.Heads[n]},
				{Offset: uint64(f.Header.Layout.BlockHashTree.Start), Data: f.Tails[n]}},
			NewLength: &eof}
	}
	if err := sw.request(ctx, ss, tw); err != nil {
		return err
	}
	w := sw.w
	w.mu.Lock()
	w.placed[ss.pl.server] = append(w.placed[ss.pl.server], ss.nums...)
	w.mu.Unlock()
	return nil
}

// request sends one guarded request; a failed test means another writer
// replaced our shares: a newer version supersedes ours, anything else is
// a conflict. Either way the server is done.
func (sw *streamWriter) request(ctx context.Context, ss *streamServer, tw map[uint64]grid.TestWrite) error {
	res, err := sw.w.send(ctx, ss.st, ss.sec, tw)
	if err != nil {
		return err
	}
	if res.Success {
		return nil
	}
	w := sw.w
	for _, v := range res.Data {
		if len(v) > 0 && len(v[0]) >= 9 && seqnumOf(v[0]) > w.seqnum {
			w.mu.Lock()
			w.superseded = true
			w.mu.Unlock()
			return errSuperseded
		}
	}
	w.setConflict(fmt.Errorf("%s: our shares changed while we wrote them", ss.pl.server.Name()))
	return errSuperseded
}

// errSuperseded ends a server's part after another writer's took over.
var errSuperseded = errors.New("superseded")

// sendAll runs do for every live server at once (at most Parallel) and
// drops those that fail.
func (sw *streamWriter) sendAll(ctx context.Context, do func(*streamServer) error) {
	sem := make(chan struct{}, sw.w.p.parallel())
	errs := make([]error, len(sw.live))
	var wg sync.WaitGroup
	for i, ss := range sw.live {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = do(ss)
			<-sem
		}()
	}
	wg.Wait()
	sw.drop(errs)
}

// drop removes the live servers whose errs are set, recording failures
// (a superseded server is not a failed one).
func (sw *streamWriter) drop(errs []error) {
	live := sw.live[:0]
	for i, ss := range sw.live {
		switch {
		case errs[i] == nil:
			live = append(live, ss)
		case !errors.Is(errs[i], errSuperseded):
			sw.fail(ss.pl, errs[i])
		}
	}
	sw.live = live
}

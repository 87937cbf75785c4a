package upload

import (
	"context"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
)

// send encodes the file segment by segment and writes each allocated
// share in order (header, blocks, then the hash trees and UEB): a batch
// of about batchSize bytes of every share, each share's part of it in one
// request, all shares at once. The next batch is encoded, straight into
// the other set of buffers, while one is written, and starts as soon as
// it is encoded; the two sets are all the memory it holds.
func (p *placer) send(ctx context.Context) error {
	s := newSender(ctx, p)
	s.add(p.st.Header())
	for p.st.BlockLen() > 0 {
		if err := s.next(); err != nil {
			s.waitAll()
			return err
		}
		if s.pending() >= s.batch {
			if err := s.flush(); err != nil {
				s.waitAll()
				return err
			}
		}
	}
	tail, err := p.st.Finish()
	if err != nil {
		s.waitAll()
		return err
	}
	p.uebHash = tail.UEBHash
	for _, n := range s.want {
		s.cur[n] = append(s.cur[n], tail.Shares[n]...)
	}
	err = s.flush()
	if err2 := s.waitAll(); err == nil {
		err = err2
	}
	return err
}

// wanted lists the share numbers some server allocated, sorted.
func (p *placer) wanted() []uint64 {
	var out []uint64
	for _, b := range p.buckets {
		for _, n := range b.nums {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// sender double-buffers the batches of one upload. Buffers are indexed
// by share number; shares no server allocated have none, their blocks
// (still needed for the hash trees) go to scratch.
type sender struct {
	p       *placer
	ctx     context.Context
	want    []uint64
	sets    [2][][]byte
	cur     [][]byte
	scratch [][]byte
	dst     [][]byte
	which   int
	flights [2]chan []*bucket // the batch in flight from each set
	batch   int               // bytes of each share per batch
	off     uint64            // share offset of cur
}

// newSender allocates both buffer sets for p's wanted shares.
func newSender(ctx context.Context, p *placer) *sender {
	p.slots = make(chan struct{}, p.u.parallel())
	n := p.u.N
	s := &sender{p: p, ctx: ctx, want: p.wanted(), scratch: make([][]byte, n), dst: make([][]byte, n)}
	s.batch = batchSize(len(s.want))
	block := p.st.BlockLen() // the first block is the longest
	room := min(p.st.ShareSize(), uint64(len(p.st.Header())+s.batch)+block)
	for i := range s.sets {
		s.sets[i] = make([][]byte, n)
		for _, sh := range s.want {
			s.sets[i][sh] = make([]byte, 0, room)
		}
	}
	for i := range s.scratch {
		if s.sets[0][i] == nil {
			s.scratch[i] = make([]byte, block)
		}
	}
	s.cur = s.sets[0]
	return s
}

// batchSize is each share's part of a batch when shares are written: the
// two batches of all of them stay within batchBudget.
func batchSize(shares int) int {
	return min(max(batchBudget/(2*max(shares, 1)), minBatch), maxBatch)
}

// add appends b to every wanted share's pending bytes.
func (s *sender) add(b []byte) {
	for _, n := range s.want {
		s.cur[n] = append(s.cur[n], b...)
	}
}

// pending is how many bytes of each share wait to be sent.
func (s *sender) pending() int {
	if len(s.want) == 0 {
		return 0
	}
	return len(s.cur[s.want[0]])
}

// next encodes the next segment, its blocks written behind the pending
// bytes of each share.
func (s *sender) next() error {
	bl := int(s.p.st.BlockLen())
	for i := range s.dst {
		if s.cur[i] == nil {
			s.dst[i] = s.scratch[i][:bl]
			continue
		}
		l := len(s.cur[i])
		s.cur[i] = slices.Grow(s.cur[i], bl)[:l+bl]
		s.dst[i] = s.cur[i][l:]
	}
	_, err := s.p.st.NextInto(s.dst)
	return err
}

// wait waits for the batch in flight from buffer set i, if any, and
// drops the servers that failed it.
func (s *sender) wait(i int) error {
	if s.flights[i] == nil {
		return nil
	}
	dead := <-s.flights[i]
	s.flights[i] = nil
	return s.p.drop(s.ctx, dead)
}

// waitAll waits for both batches; the first error wins.
func (s *sender) waitAll() error {
	err := s.wait(0)
	if err2 := s.wait(1); err == nil {
		err = err2
	}
	return err
}

// flush starts writing the pending batch, switches to the other buffer
// set and waits until the batch written from it is done: the two batches
// are in flight together meanwhile, so the servers never wait for the
// encoder to notice that one is finished.
func (s *sender) flush() error {
	if len(s.want) == 0 {
		return nil
	}
	off, data, live := s.off, s.cur, slices.Clone(s.p.buckets)
	s.off += uint64(s.pending())
	fl := make(chan []*bucket, 1)
	s.flights[s.which] = fl
	go func() { fl <- s.p.flush(s.ctx, live, off, data) }()
	s.which ^= 1
	s.cur = s.sets[s.which]
	if err := s.wait(s.which); err != nil {
		return err
	}
	for _, n := range s.want {
		s.cur[n] = s.cur[n][:0]
	}
	return nil
}

// flush writes one batch (the bytes of each share from off, by share
// number) to the given servers, every share in parallel, and returns
// those that failed.
func (p *placer) flush(ctx context.Context, buckets []*bucket, off uint64, data [][]byte) (dead []*bucket) {
	var g errgroup.Group
	for _, b := range buckets {
		for _, n := range b.nums {
			g.Go(func() error {
				p.slots <- struct{}{} // both batches' requests count toward Parallel
				err := p.writeShare(ctx, b, n, off, data[n])
				<-p.slots
				if err != nil {
					p.mu.Lock()
					defer p.mu.Unlock()
					if _, ok := p.failed[b.s]; !ok { // keep the first cause
						p.failed[b.s] = err
					}
					if !slices.Contains(dead, b) {
						dead = append(dead, b)
					}
				}
				return nil
			})
		}
	}
	g.Wait()
	return dead
}

// drop releases the allocations of the servers that failed a batch (and
// are not dropped yet) and forgets their shares. It fails once the rest
// cannot be happy.
func (p *placer) drop(ctx context.Context, dead []*bucket) error {
	var live []*bucket
	for _, b := range p.buckets {
		if !slices.Contains(dead, b) {
			live = append(live, b)
			continue
		}
		p.abort(b)
		p.placed[b.s] = slices.DeleteFunc(p.placed[b.s], func(n int) bool { return slices.Contains(b.nums, uint64(n)) })
		if len(p.placed[b.s]) == 0 {
			delete(p.placed, b.s)
		}
	}
	p.buckets = live
	if err := ctx.Err(); err != nil {
		return errkind.E("", errkind.Other, err)
	}
	if h := publish.Happiness(p.placed); h < p.u.Happy {
		return errkind.E("", errkind.Unreachable, "shares reached only %d distinct servers, shares.happy is %d%s", h, p.u.Happy, p.failures())
	}
	return nil
}

// writeShare writes one share's part of a batch in one request.
func (p *placer) writeShare(ctx context.Context, b *bucket, n, off uint64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	return p.u.call(ctx, func(ctx context.Context) error {
		_, err := b.st.WriteShare(ctx, p.st.StorageIndex(), n, b.secret, off, data)
		return err
	})
}

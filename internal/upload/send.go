package upload

import (
	"context"
	"io"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
)

// send encodes the file segment by segment and writes each allocated
// share in order (header, blocks, then the hash trees and UEB), about
// chunkSize of every share per request. One batch is written while the
// next is encoded; two batches are all the memory it holds.
func (p *placer) send(ctx context.Context) error {
	want := p.wanted()
	var sets [2]map[uint64][]byte
	for i := range sets {
		sets[i] = make(map[uint64][]byte, len(want))
		for _, n := range want {
			sets[i][n] = make([]byte, 0, min(p.st.ShareSize(), 2*chunkSize))
		}
	}
	s := &sender{p: p, ctx: ctx, want: want, sets: sets, cur: sets[0]}
	s.add(func(uint64) []byte { return p.st.Header() })
	for {
		blocks, _, err := p.st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.wait()
			return err
		}
		s.add(func(n uint64) []byte { return blocks[n] })
		if len(want) > 0 && len(s.cur[want[0]]) >= chunkSize {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	tail, err := p.st.Finish()
	if err != nil {
		s.wait()
		return err
	}
	p.uebHash = tail.UEBHash
	s.add(func(n uint64) []byte { return tail.Shares[n] })
	if err := s.flush(); err != nil {
		return err
	}
	return s.wait()
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

// sender double-buffers the batches of one upload.
type sender struct {
	p      *placer
	ctx    context.Context
	want   []uint64
	sets   [2]map[uint64][]byte
	cur    map[uint64][]byte
	which  int
	off    uint64 // share offset of cur
	flight chan error
}

// add appends part(n) to every wanted share's pending bytes.
func (s *sender) add(part func(n uint64) []byte) {
	for _, n := range s.want {
		s.cur[n] = append(s.cur[n], part(n)...)
	}
}

// wait waits for the batch in flight, if any.
func (s *sender) wait() error {
	if s.flight == nil {
		return nil
	}
	err := <-s.flight
	s.flight = nil
	return err
}

// flush starts writing the pending batch once the previous one is done
// and switches to the other buffer set.
func (s *sender) flush() error {
	if err := s.wait(); err != nil {
		return err
	}
	if len(s.want) == 0 {
		return nil
	}
	off, data := s.off, s.cur
	s.off += uint64(len(data[s.want[0]]))
	s.flight = make(chan error, 1)
	go func() { s.flight <- s.p.flush(s.ctx, off, data) }()
	s.which ^= 1
	s.cur = s.sets[s.which]
	for n, b := range s.cur {
		s.cur[n] = b[:0]
	}
	return nil
}

// flush writes one batch (the bytes of each share from off) to every
// server still writing, in parallel. A server that fails is dropped and
// its allocations released; flush fails once the rest cannot be happy.
func (p *placer) flush(ctx context.Context, off uint64, data map[uint64][]byte) error {
	var g errgroup.Group
	g.SetLimit(p.u.parallel())
	dead := make([]bool, len(p.buckets))
	for i, b := range p.buckets {
		g.Go(func() error {
			if err := p.writeBucket(ctx, b, off, data); err != nil {
				p.mu.Lock()
				p.failed[b.s] = err
				p.mu.Unlock()
				dead[i] = true
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return errkind.E("", errkind.Other, err)
	}
	p.drop(dead)
	if h := publish.Happiness(p.placed); h < p.u.Happy {
		return errkind.E("", errkind.Unreachable, "shares reached only %d distinct servers, shares.happy is %d%s", h, p.u.Happy, p.failures())
	}
	return nil
}

// drop releases the buckets marked dead and forgets their shares.
func (p *placer) drop(dead []bool) {
	var live []*bucket
	for i, b := range p.buckets {
		if !dead[i] {
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
}

// writeBucket writes b's shares of one batch, chunkSize per request.
func (p *placer) writeBucket(ctx context.Context, b *bucket, off uint64, data map[uint64][]byte) error {
	si := p.st.StorageIndex()
	for _, n := range b.nums {
		share := data[n]
		for i := 0; i < len(share); i += chunkSize {
			end := min(i+chunkSize, len(share))
			err := p.u.call(ctx, func(ctx context.Context) error {
				_, err := b.st.WriteShare(ctx, si, n, b.secret, off+uint64(i), share[i:end])
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

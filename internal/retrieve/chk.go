package retrieve

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/chk"
)

// catCHK locates the shares of an immutable file and decodes it into w.
func (r *Reader) catCHK(ctx context.Context, w io.Writer, c *cap.CHK) (*Report, error) {
	const op = "retrieve.CHK"
	if c.Size == 0 {
		return &Report{}, nil
	}
	found, results := r.locate(ctx, c.SI)
	if len(found) < c.K {
		return nil, notRecoverable(op, c.SI, chkFound(len(found), c), results)
	}
	srcs := map[int]io.ReaderAt{}
	report := &Report{Used: map[int]string{}}
	for num, s := range found {
		srcs[num] = &shareReaderAt{ctx: ctx, src: s.Source, si: c.SI, num: num, timeout: r.opts.Timeout}
		report.Used[num] = s.Name
	}
	rd, err := chk.NewReader(c.Key, chk.VerifyCap{UEBHash: c.UEBHash, K: c.K, N: c.N, Size: c.Size}, srcs)
	if err != nil {
		return report, errkind.E(op, errkind.KindOf(err), err)
	}
	_, err = rd.WriteTo(w)
	for num, e := range rd.ShareErrors() {
		report.Bad = append(report.Bad, BadShare{Server: found[num].Name, Num: num, Err: e})
		delete(report.Used, num)
		advise(ctx, found[num].Source, grid.Immutable, c.SI, num, e)
	}
	return report, err
}

func chkFound(n int, c *cap.CHK) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("found %d of the %d shares needed (%d-of-%d)", n, c.K, c.K, c.N)
}

// LocateImmutable lists the immutable shares of si on every server at
// once; it returns each server's outcome and the number of distinct
// shares found.
func (r *Reader) LocateImmutable(ctx context.Context, si []byte) ([]*mapupdate.ServerResult, int) {
	found, results := r.locate(ctx, si)
	return results, len(found)
}

// locate lists the immutable shares of si on every server at once and
// keeps, for each share number, the first server to answer with it.
func (r *Reader) locate(ctx context.Context, si []byte) (map[int]mapupdate.Server, []*mapupdate.ServerResult) {
	servers := r.Servers(si)
	start := time.Now()
	found := map[int]mapupdate.Server{}
	var results []*mapupdate.ServerResult
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(32)
	for _, s := range servers {
		res := &mapupdate.ServerResult{ID: s.ID, Name: s.Name, Source: s.Source, Err: s.Err, Class: mapupdate.Classify(s.Err)}
		results = append(results, res)
		if s.Source == nil {
			continue
		}
		g.Go(func() error {
			lctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
			defer cancel()
			nums, err := s.Source.ListShares(lctx, grid.Immutable, si)
			mu.Lock()
			defer mu.Unlock()
			res.Latency = time.Since(start)
			if err != nil {
				res.Err, res.Class = err, mapupdate.Classify(err)
				return nil
			}
			for _, n := range nums {
				res.Listed = append(res.Listed, int(n))
				if _, ok := found[int(n)]; !ok {
					found[int(n)] = s
				}
			}
			return nil
		})
	}
	g.Wait()
	return found, results
}

// shareReaderAt reads an immutable share by ranges, keeping the last
// chunk it fetched: the decoder's many small reads of headers and hash
// trees then cost one request.
type shareReaderAt struct {
	ctx     context.Context
	src     Source
	si      []byte
	num     int
	timeout time.Duration

	mu    sync.Mutex
	off   int64
	chunk []byte
}

const minChunk = 16 << 10

func (s *shareReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= s.off && off+int64(len(p)) <= s.off+int64(len(s.chunk)) {
		return copy(p, s.chunk[off-s.off:]), nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	b, err := s.src.ReadShare(ctx, grid.Immutable, s.si, uint64(s.num), off, int64(max(len(p), minChunk)))
	if err != nil {
		return 0, err
	}
	s.off, s.chunk = off, b
	n := copy(p, b)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

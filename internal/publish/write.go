package publish

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// maxRetests bounds how often one server's write is retried after its
// shares turned out to hold an older version than expected.
const maxRetests = 4

// errLeadConflict marks a test failure on the lead server: nothing was
// written anywhere.
var errLeadConflict = errors.New("lead conflict")

// writer carries out one publish.
type writer struct {
	p      *Publisher
	c      *cap.Mutable
	enc    *mutable.Encoded
	seqnum uint64
	plan   []*placement
	spare  []*grid.ServerInfo                     // where homeless shares may go
	held   func(s *grid.ServerInfo, n int) []byte // what a spare server holds; nil: nothing
	k, n   int                                    // the encoding

	master     []byte
	mu         sync.Mutex
	placed     map[*grid.ServerInfo][]int
	failed     map[*grid.ServerInfo]error
	homeless   []int
	superseded bool
	conflict   error
}

func (w *writer) run(ctx context.Context, op string) (*Result, error) {
	w.start()
	leadWait, rest, err := w.lead(ctx)
	if err != nil {
		return nil, w.leadError(op, err)
	}
	w.fanOut(ctx, rest)
	leadWait()
	if len(w.homeless) > 0 {
		w.fanOut(ctx, w.rehome())
	}
	return w.result(ctx, op)
}

func (w *writer) start() {
	w.master = w.p.leaseSecret()
	w.placed = map[*grid.ServerInfo][]int{}
	w.failed = map[*grid.ServerInfo]error{}
	if w.enc != nil {
		w.k, w.n = w.enc.Header.K, w.enc.Header.N
	}
}

// leadError is the error of a publish that no lead server took.
func (w *writer) leadError(op string, err error) error {
	if errors.Is(err, errLeadConflict) && w.seqnum == 1 && w.held == nil {
		return errkind.E(op, errkind.Conflict, "%s already has shares on the grid (its key was used before); nothing was written", cap.Abbrev(w.c))
	}
	if errors.Is(err, errLeadConflict) {
		return errkind.E(op, errkind.Conflict, "%s changed since it was read (another writer won); nothing was written", cap.Abbrev(w.c))
	}
	return errkind.E(op, errkind.KindOf(err), err)
}

// result sums up a publish once every write ended.
func (w *writer) result(ctx context.Context, op string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	if w.conflict != nil {
		return nil, errkind.E(op, errkind.Conflict, "uncoordinated write to %s: %v; run the write again to settle the file", cap.Abbrev(w.c), w.conflict)
	}
	res := &Result{Cap: w.c, Seqnum: w.seqnum, Placed: map[string][]int{}, Superseded: w.superseded}
	for s, nums := range w.placed {
		sort.Ints(nums)
		res.Placed[s.Name()] = nums
	}
	res.Happiness = Happiness(w.placed)
	res.Shares, res.Needed, res.Total = w.distinctShares(), w.k, w.n
	if res.Happiness < w.p.happy() && !w.superseded {
		return res, errkind.E(op, errkind.Unreachable, &UnhappyError{Result: res, Happy: w.p.happy(), failures: w.failures()})
	}
	return res, nil
}

// distinctShares counts the share numbers of the new version placed
// anywhere.
func (w *writer) distinctShares() int {
	seen := map[int]bool{}
	for _, nums := range w.placed {
		for _, n := range nums {
			seen[n] = true
		}
	}
	return len(seen)
}

// UnhappyError is a publish that reached fewer than Happy servers with
// distinct shares. Its Result says whether the version landed anyway:
// Tahoe's own publisher counts a mutable write as done once k shares
// are in place (src/allmydata/mutable/publish.py fails only below k),
// so a caller may accept a Recoverable one.
type UnhappyError struct {
	Result   *Result
	Happy    int
	failures string
}

func (e *UnhappyError) Error() string {
	r := e.Result
	if r.Recoverable() {
		return fmt.Sprintf("version %d is in place and readable (%d of %d shares, %d needed), but on only %d servers with distinct shares, shares.happy is %d%s",
			r.Seqnum, r.Shares, r.Total, r.Needed, r.Happiness, e.Happy, e.failures)
	}
	return fmt.Sprintf("version %d is not recoverable: only %d distinct shares landed, %d needed, on %d servers (shares.happy is %d)%s",
		r.Seqnum, r.Shares, r.Needed, r.Happiness, e.Happy, e.failures)
}

// failures lists the servers that failed, for an error message.
func (w *writer) failures() string {
	if len(w.failed) == 0 {
		return " (not enough servers)"
	}
	var parts []string
	for s, err := range w.failed {
		parts = append(parts, s.Name()+": "+err.Error())
	}
	sort.Strings(parts)
	return "; failed: " + strings.Join(parts, "; ")
}

// lead writes the first placement that answers, and returns the others
// with a function that waits for the rest of the lead's write. A test
// failure there means another writer got in first. The others start as
// soon as the lead's first request (the one that tests) succeeded: from
// then on our checkstring guards the lead's shares, and its later chunks
// overlap the other servers' writes.
func (w *writer) lead(ctx context.Context) (func(), []*placement, error) {
	for i, pl := range w.plan {
		if len(pl.shares) == 0 {
			continue
		}
		first := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- w.writeServer(ctx, pl, true, func() { close(first) }) }()
		select {
		case <-first:
			return func() { <-done }, w.plan[i+1:], nil
		case err := <-done:
			if errors.Is(err, errLeadConflict) {
				return nil, nil, err
			}
			if err == nil {
				return func() {}, w.plan[i+1:], nil
			}
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	return nil, nil, errkind.E("", errkind.Unreachable, "no server accepted version %d%s", w.seqnum, w.failures())
}

// fanOut writes the placements concurrently.
func (w *writer) fanOut(ctx context.Context, plan []*placement) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.p.parallel())
	for _, pl := range plan {
		if len(pl.shares) > 0 {
			g.Go(func() error { w.writeServer(gctx, pl, false, nil); return nil })
		}
	}
	g.Wait()
}

// rehome places the shares of failed servers on servers that took ours,
// fewest shares first, never on one that already has that share.
func (w *writer) rehome() []*placement {
	var live []*grid.ServerInfo
	for _, s := range w.spare {
		if _, bad := w.failed[s]; !bad {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return nil
	}
	count := map[*grid.ServerInfo]int{}
	has := map[*grid.ServerInfo]map[int]bool{}
	for _, s := range live {
		count[s] = len(w.placed[s])
		has[s] = map[int]bool{}
		for _, n := range w.placed[s] {
			has[s][n] = true
		}
	}
	byServer := map[*grid.ServerInfo]*placement{}
	var plan []*placement
	homeless := w.homeless
	w.homeless = nil
	for _, n := range homeless {
		var best *grid.ServerInfo
		for _, s := range live {
			if !has[s][n] && (best == nil || count[s] < count[best]) {
				best = s
			}
		}
		if best == nil {
			w.homeless = append(w.homeless, n)
			continue
		}
		count[best]++
		has[best][n] = true
		pl := byServer[best]
		if pl == nil {
			pl = &placement{server: best, shares: map[int][]byte{}}
			byServer[best] = pl
			plan = append(plan, pl)
		}
		var exp []byte
		if w.held != nil {
			exp = w.held(best, n)
		}
		pl.shares[n] = exp
	}
	return plan
}

// chunkBytes bounds the share data one read-test-write carries (the
// chunks of all shares one server holds together): a share of any size
// the server accepts goes in several requests, never a body past the
// server's limit. Tahoe's own servers accept any body; ours up to
// container.MaxMutableDataSize plus 1 MiB.
var chunkBytes = 8 << 20

// minChunk is the smallest chunk of one share in a request.
var minChunk = 64 << 10

// chunkSize is how much of each share one request of a server holding
// count shares carries.
func chunkSize(count int) int { return max(minChunk, chunkBytes/max(count, 1)) }

// writeServer writes pl's shares in read-test-writes of at most
// chunkBytes each. The first tests what each share holds now and writes
// its start, the new checkstring included, so that every later chunk is
// guarded by a test of that checkstring: a writer that replaced it in
// between stops ours. onFirst, if set, is called once the first request
// succeeded. When a share's first test fails on a server other than the
// lead, it looks at what the share holds: an older version than ours is
// retested and replaced, a newer one (a later writer's) is left alone, an
// equal seqnum with another root hash is an uncoordinated write.
func (w *writer) writeServer(ctx context.Context, pl *placement, lead bool, onFirst func()) error {
	err := func() error {
		st, err := w.p.Dial(pl.server)
		if err != nil {
			return err
		}
		sec, err := secrets(w.c, w.master, pl.server)
		if err != nil {
			return err
		}
		nums, err := w.firstChunk(ctx, st, sec, pl, lead)
		if err != nil || len(nums) == 0 {
			return err
		}
		if onFirst != nil {
			onFirst()
		}
		done, err := w.restChunks(ctx, st, sec, pl.server, nums, len(pl.shares))
		if err != nil || !done {
			return err
		}
		w.mu.Lock()
		w.placed[pl.server] = append(w.placed[pl.server], nums...)
		w.mu.Unlock()
		return nil
	}()
	if err != nil && !errors.Is(err, errLeadConflict) {
		w.mu.Lock()
		w.failed[pl.server] = err
		w.homeless = append(w.homeless, sortedKeys(pl.shares)...)
		w.mu.Unlock()
	}
	return err
}

// chunk returns share n's part of request i of a server holding count
// shares, and whether it is the share's last.
func (w *writer) chunk(n, i, count int) ([]byte, bool) {
	data := w.enc.Shares[n]
	c := chunkSize(count)
	lo := min(i*c, len(data))
	hi := min(lo+c, len(data))
	return data[lo:hi], hi == len(data)
}

// chunkWrite is share n's test-and-write for request i.
func (w *writer) chunkWrite(n, i, count int, test grid.TestVector) (grid.TestWrite, bool) {
	data, last := w.chunk(n, i, count)
	tw := grid.TestWrite{Test: []grid.TestVector{test},
		Write: []grid.WriteVector{{Offset: uint64(i * chunkSize(count)), Data: data}}}
	switch {
	case last:
		size := uint64(len(w.enc.Shares[n]))
		tw.NewLength = &size
	case i == 0:
		tw.NewLength = shrinkTo(uint64(len(data)))
	}
	return tw, last
}

// shrinkTo is the new length of a share's first request when more
// chunks follow: the share ends where that request's data ends, so
// every later chunk lands past the end of the share data. Nothing of
// the old version there is still wanted once the first request replaced
// the checkstring, and a server can write bytes past the end of the data
// once, in place, where it must journal (write twice) bytes a reader of
// the old version may still use. Tahoe's servers apply a new length only
// when it shrinks the share, as here.
func shrinkTo(end uint64) *uint64 { return &end }

// firstChunk sends the first request of pl, retesting shares that held an
// older version, and returns the shares it wrote (none when a later
// writer's version or a conflict took them).
func (w *writer) firstChunk(ctx context.Context, st Storage, sec grid.Secrets, pl *placement, lead bool) ([]int, error) {
	return w.firstWrite(ctx, st, sec, pl, lead, func(n int, cs []byte) grid.TestWrite {
		tw, _ := w.chunkWrite(n, 0, len(pl.shares), testVector(cs))
		return tw
	})
}

// firstWrite sends the first request of pl, share n's part of it made by
// write from the checkstring n is tested for, and retests shares that
// held an older version. It returns the shares it wrote (none when a
// later writer's version or a conflict took them).
func (w *writer) firstWrite(ctx context.Context, st Storage, sec grid.Secrets, pl *placement, lead bool, write func(n int, cs []byte) grid.TestWrite) ([]int, error) {
	expect := pl.shares
	for range maxRetests {
		tw := map[uint64]grid.TestWrite{}
		for n, cs := range expect {
			tw[uint64(n)] = write(n, cs)
		}
		res, err := w.send(ctx, st, sec, tw)
		if err != nil {
			return nil, err
		}
		if res.Success {
			return sortedKeys(expect), nil
		}
		if lead {
			return nil, errLeadConflict
		}
		if expect, err = w.retest(expect, res.Data); err != nil {
			w.setConflict(fmt.Errorf("%s: %w", pl.server.Name(), err))
			return nil, nil
		}
		if len(expect) == 0 {
			return nil, nil
		}
	}
	w.setConflict(fmt.Errorf("%s: shares kept changing under us", pl.server.Name()))
	return nil, nil
}

// restChunks sends the later requests for shares nums, each guarded by a
// test of the checkstring the first one wrote; count is the number of
// shares the first request was cut for. It reports false when a later
// writer's version replaced ours meanwhile.
func (w *writer) restChunks(ctx context.Context, st Storage, sec grid.Secrets, s *grid.ServerInfo, nums []int, count int) (bool, error) {
	for i := 1; ; i++ {
		tw := map[uint64]grid.TestWrite{}
		for _, n := range nums {
			if _, last := w.chunk(n, i-1, count); last {
				continue
			}
			cs, _ := checkstring(w.enc.Shares[n])
			tw[uint64(n)], _ = w.chunkWrite(n, i, count, testVector(cs))
		}
		if len(tw) == 0 {
			return true, nil
		}
		res, err := w.send(ctx, st, sec, tw)
		if err != nil {
			return false, err
		}
		if !res.Success {
			return false, w.overwritten(s, nums, res.Data)
		}
	}
}

// overwritten handles a failed test of our own checkstring on shares
// nums: a newer version supersedes ours; anything else is a conflicting
// writer. Only the shares asked about count: a server may answer with
// any share number.
func (w *writer) overwritten(s *grid.ServerInfo, nums []int, data map[uint64][][]byte) error {
	for _, n := range nums {
		v := data[uint64(n)]
		if len(v) == 0 || len(v[0]) == 0 {
			continue
		}
		got, err := checkstring(v[0])
		mine, _ := checkstring(w.enc.Shares[n])
		if err == nil && !bytes.Equal(got, mine) && seqnumOf(got) > w.seqnum {
			w.mu.Lock()
			w.superseded = true
			w.mu.Unlock()
			return nil
		}
	}
	w.setConflict(fmt.Errorf("%s: our shares changed while we wrote them", s.Name()))
	return nil
}

func (w *writer) setConflict(err error) {
	w.mu.Lock()
	w.conflict = err
	w.mu.Unlock()
}

// send is one read-test-write, reading each share's checkstring.
func (w *writer) send(ctx context.Context, st Storage, sec grid.Secrets, tw map[uint64]grid.TestWrite) (*grid.RTWResult, error) {
	rctx, cancel := context.WithTimeout(ctx, w.p.timeout())
	defer cancel()
	return st.ReadTestWrite(rctx, w.c.StorageIndex(), sec, tw, []grid.ReadVector{{Offset: 0, Size: sdmfCheckLen}})
}

// retest works out the next expectations after a failed test from the
// checkstrings the server returned.
func (w *writer) retest(expect map[int][]byte, data map[uint64][][]byte) (map[int][]byte, error) {
	next := map[int][]byte{}
	for n, cs := range expect {
		var got []byte
		if v := data[uint64(n)]; len(v) > 0 && len(v[0]) > 0 {
			var err error
			if got, err = checkstring(v[0]); err != nil {
				return nil, fmt.Errorf("share %d: %v", n, err)
			}
		}
		switch {
		case bytes.Equal(got, cs):
			next[n] = cs
		case got == nil:
			next[n] = nil
		case seqnumOf(got) < w.seqnum:
			next[n] = got
		case seqnumOf(got) > w.seqnum:
			w.mu.Lock()
			w.superseded = true
			w.mu.Unlock()
		default:
			return nil, fmt.Errorf("share %d already holds another version %d", n, w.seqnum)
		}
	}
	return next, nil
}

func seqnumOf(cs []byte) uint64 { return binary.BigEndian.Uint64(cs[1:9]) }

// testVector says a share holds checkstring cs, or nothing when cs is nil.
func testVector(cs []byte) grid.TestVector {
	if cs == nil {
		return grid.TestVector{Offset: 0, Size: 1, Specimen: []byte{}}
	}
	return grid.TestVector{Offset: 0, Size: uint64(len(cs)), Specimen: cs}
}

// Happiness is the number of servers that can each be matched with a
// distinct share they hold: the size of a maximum bipartite matching
// between servers and share numbers (Tahoe's servers-of-happiness).
func Happiness[S comparable](placed map[S][]int) int {
	owner := map[int]S{}
	matched := 0
	for s := range placed {
		seen := map[int]bool{}
		if augment(s, placed, owner, seen) {
			matched++
		}
	}
	return matched
}

// augment looks for an augmenting path from server s (Kuhn's algorithm).
func augment[S comparable](s S, placed map[S][]int, owner map[int]S, seen map[int]bool) bool {
	for _, n := range placed[s] {
		if seen[n] {
			continue
		}
		seen[n] = true
		o, taken := owner[n]
		if !taken || augment(o, placed, owner, seen) {
			owner[n] = s
			return true
		}
	}
	return false
}

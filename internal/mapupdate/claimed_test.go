package mapupdate

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// countLists is a Source that counts its listings.
type countLists struct {
	Source
	n     *atomic.Int32
	reads *atomic.Int32 // if set, counts reads
}

func (c countLists) ReadShare(ctx context.Context, kind string, si []byte, shnum uint64, offset, length int64) ([]byte, error) {
	if c.reads != nil {
		c.reads.Add(1)
	}
	return c.Source.ReadShare(ctx, kind, si, shnum, offset, length)
}

func (c countLists) ListShares(ctx context.Context, kind string, si []byte) ([]uint64, error) {
	c.n.Add(1)
	return c.Source.ListShares(ctx, kind, si)
}

// claimFixture is an SDMF file on three servers, its map from listings,
// and clients for its servers, closed at the end of the test.
func claimFixture(t *testing.T) (*cap.Mutable, *Map, []Server) {
	g, o := testgrid.SDMFOld(t, 3)
	c := cap.MustParse(o.Cap).(*cap.Mutable)
	truth := update(t, g, c, nil)
	servers, done := Clients(g.Grid(), c.SI, &grid.Options{Retries: -1})
	t.Cleanup(done)
	return c, truth, servers
}

// trueClaims claims, for server i, the shares truth found there, at the
// best version's root and seqnum seq.
func trueClaims(truth *Map, i int, seq uint64) []Claim {
	var cs []Claim
	for _, n := range truth.Servers[i].Listed {
		cs = append(cs, Claim{Shnum: uint64(n), Seqnum: seq, Root: truth.Best.ID.RootHash})
	}
	return cs
}

// TestClaimsReplaceListing: servers' claims stand in for their listings
// (no list request), the version is the one the shares read verified, a
// claim of a share a server does not hold fails under that server's
// name only, and a server claiming more than MaxClaims is listed.
func TestClaimsReplaceListing(t *testing.T) {
	c, truth, servers := claimFixture(t)
	var lists atomic.Int32
	for i := range servers {
		servers[i].Source = countLists{Source: servers[i].Source, n: &lists}
		servers[i].Claimed, servers[i].Claims = true, trueClaims(truth, i, truth.Best.ID.Seqnum)
	}
	servers[0].Claims = append(servers[0].Claims, Claim{Shnum: 200, Seqnum: 99})
	for range MaxClaims {
		servers[1].Claims = append(servers[1].Claims, Claim{Shnum: 201})
	}
	m, err := Update(context.Background(), c, servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Best == nil || m.Best.ID != truth.Best.ID || !m.Best.Recoverable() {
		t.Fatalf("best %+v, want %+v", m.Best, truth.Best)
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("%d list requests, want 1 (the server with too many claims)", n)
	}
	for i, r := range m.Servers {
		switch {
		case i == 0 && (r.Err == nil || len(r.Listed) != len(truth.Servers[0].Listed)+1):
			t.Errorf("server 0 (false claim): %s", r)
		case i == 1 && (r.Err != nil || len(r.Listed) != len(truth.Servers[1].Listed)):
			t.Errorf("server 1 (too many claims, listed): %s", r)
		case i > 1 && r.Err != nil:
			t.Errorf("honest server %d: %s", i, r)
		}
	}
}

// TestRepeatedClaimReadOnce: a server claiming each of its shares three
// times has each listed once and read as often as an honest claim is.
func TestRepeatedClaimReadOnce(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	c := cap.MustParse(o.Cap).(*cap.Mutable)
	truth := update(t, g, c, nil)
	reads := func(times int) (int32, *Map) {
		servers, done := Clients(g.Grid(), c.SI, &grid.Options{Retries: -1})
		defer done()
		var lists, n atomic.Int32
		for i := range servers {
			servers[i].Claimed = true
			for _, sh := range truth.Servers[i].Listed {
				for range times {
					servers[i].Claims = append(servers[i].Claims, Claim{Shnum: uint64(sh), Seqnum: truth.Best.ID.Seqnum, Root: truth.Best.ID.RootHash})
				}
			}
		}
		servers[0].Source = countLists{Source: servers[0].Source, n: &lists, reads: &n}
		m, err := Update(context.Background(), c, servers, nil)
		if err != nil {
			t.Fatal(err)
		}
		return n.Load(), m
	}
	once, _ := reads(1)
	thrice, m := reads(3)
	if once == 0 || thrice != once {
		t.Errorf("server 0 served %d reads for shares claimed thrice, %d claimed once", thrice, once)
	}
	if got, want := len(m.Servers[0].Listed), len(truth.Servers[0].Listed); got != want {
		t.Errorf("server 0 listed %d shares, want %d", got, want)
	}
	if m.Best == nil || m.Best.ID != truth.Best.ID {
		t.Fatalf("best %+v, want %+v", m.Best, truth.Best)
	}
}

// inFlight is a Source whose reads take a while and that records the
// most reads it had in flight at once.
type inFlight struct {
	Source
	mu       sync.Mutex
	now, max int
}

func (f *inFlight) ReadShare(ctx context.Context, kind string, si []byte, shnum uint64, offset, length int64) ([]byte, error) {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.now--; f.mu.Unlock() }()
	time.Sleep(20 * time.Millisecond)
	return f.Source.ReadShare(ctx, kind, si, shnum, offset, length)
}

// TestClaimedReadsBoundedPerServer: a server claiming many shares has no
// more reads in flight at once than a listing would give it.
func TestClaimedReadsBoundedPerServer(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	c := cap.MustParse(o.Cap).(*cap.Mutable)
	servers, done := Clients(g.Grid(), c.SI, &grid.Options{Retries: -1})
	defer done()
	f := &inFlight{Source: servers[0].Source}
	servers[0].Source, servers[0].Claimed = f, true
	for n := range 64 {
		servers[0].Claims = append(servers[0].Claims, Claim{Shnum: uint64(n), Seqnum: 1})
	}
	if _, err := Update(context.Background(), c, servers, nil); err != nil {
		t.Fatal(err)
	}
	if f.max > perServerReads || f.max == 0 {
		t.Errorf("%d reads in flight at once to one server, want 1 to %d", f.max, perServerReads)
	}
}

// TestClaimedReadsOneShare: with every server's claims true, an update
// reads one share, which proves the version; the unread claims stand as
// its shares (recoverable from them) and as the holders.
func TestClaimedReadsOneShare(t *testing.T) {
	c, truth, servers := claimFixture(t)
	var lists atomic.Int32
	reads := make([]atomic.Int32, len(servers))
	for i := range servers {
		servers[i].Source = countLists{Source: servers[i].Source, n: &lists, reads: &reads[i]}
		servers[i].Claimed, servers[i].Claims = true, trueClaims(truth, i, truth.Best.ID.Seqnum)
	}
	m, err := Update(context.Background(), c, servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Best == nil || m.Best.ID != truth.Best.ID || m.Best.Verified() != 1 || m.Best.Distinct() != truth.Best.Distinct() {
		t.Fatalf("best %+v, want %+v with one share verified and the rest claimed", m.Best, truth.Best)
	}
	var total int32
	for i := range reads {
		total += reads[i].Load()
		if got, want := len(m.Servers[i].Listed), len(truth.Servers[i].Listed); got != want {
			t.Errorf("server %d: %d holders, want its %d claims", i, got, want)
		}
	}
	if lists.Load() != 0 || total != 1 {
		t.Errorf("%d lists and %d reads, want 0 and 1", lists.Load(), total)
	}
}

// TestClaimsShortOfK: a version whose verified and claimed shares are
// fewer than k is not recoverable from claims: no Best, and the version
// is reported as not yet recoverable.
func TestClaimsShortOfK(t *testing.T) {
	c, truth, servers := claimFixture(t)
	for i := range servers {
		servers[i].Claimed = true // servers 1 and 2 claim nothing
	}
	for _, n := range truth.Servers[0].Listed[:2] {
		servers[0].Claims = append(servers[0].Claims, Claim{Shnum: uint64(n), Seqnum: truth.Best.ID.Seqnum, Root: truth.Best.ID.RootHash})
	}
	m, err := Update(context.Background(), c, servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Best != nil || len(m.Newer) != 1 || m.Newer[0].ID != truth.Best.ID || m.Newer[0].Distinct() != 2 {
		t.Fatalf("best %+v, newer %v: want no best and the version, 2 shares, not recoverable", m.Best, m.Newer)
	}
}

// TestNewerFalseClaimThenTrue: a server claiming a newer version that
// does not verify costs one read per such claim, and the true version
// is still found, proven by a read of another server's share.
func TestNewerFalseClaimThenTrue(t *testing.T) {
	c, truth, servers := claimFixture(t)
	var lists, liarReads atomic.Int32
	for i := range servers {
		servers[i].Claimed = true
		seq := truth.Best.ID.Seqnum
		if i == 0 {
			seq += 5 // a lie: the shares hold the true version
			servers[i].Source = countLists{Source: servers[i].Source, n: &lists, reads: &liarReads}
		}
		servers[i].Claims = trueClaims(truth, i, seq)
	}
	m, err := Update(context.Background(), c, servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Best == nil || m.Best.ID != truth.Best.ID || len(m.Newer) != 0 {
		t.Fatalf("best %+v (newer %d), want %+v and nothing newer", m.Best, len(m.Newer), truth.Best)
	}
	if n, most := liarReads.Load(), int32(len(truth.Servers[0].Listed)); n == 0 || n > most {
		t.Errorf("the lying server served %d reads, want 1 to %d (one per false claim)", n, most)
	}
}

// TestReadClaimedVerifiesEvery: with Options.ReadClaimed every claimed
// share of the version is read and verified (a directory about to be
// retrieved needs k verified shares), none is left merely claimed.
func TestReadClaimedVerifiesEvery(t *testing.T) {
	c, truth, servers := claimFixture(t)
	var lists, reads atomic.Int32
	claims := 0
	for i := range servers {
		servers[i].Source = countLists{Source: servers[i].Source, n: &lists, reads: &reads}
		servers[i].Claimed, servers[i].Claims = true, trueClaims(truth, i, truth.Best.ID.Seqnum)
		claims += len(servers[i].Claims)
	}
	m, err := Update(context.Background(), c, servers, &Options{ReadClaimed: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Best == nil || m.Best.ID != truth.Best.ID || m.Best.Verified() != truth.Best.Distinct() || len(m.Best.Claimed) != 0 {
		t.Fatalf("best %+v, want %+v with every share verified", m.Best, truth.Best)
	}
	if lists.Load() != 0 || int(reads.Load()) != claims {
		t.Errorf("%d lists and %d reads, want 0 and %d (one per claim)", lists.Load(), reads.Load(), claims)
	}
}

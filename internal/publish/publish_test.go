package publish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func newPublisher(t testing.TB, g *grid.Grid, happy int) *publish.Publisher {
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	return &publish.Publisher{Grid: g, Dial: cl.Dial, Happy: happy}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func mustRead(t testing.TB, p *publish.Publisher, c *cap.Mutable) ([]byte, uint64) {
	t.Helper()
	b, _, v, err := p.Get(context.Background(), c)
	if err != nil {
		t.Fatalf("read %s: %v", cap.Abbrev(c), err)
	}
	return b, v.ID.Seqnum
}

func TestCreateUpdateRoundTrip(t *testing.T) {
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 4)
	ctx := context.Background()
	sizes := []int{0, 1024, 1 << 20}
	if !testing.Short() {
		sizes = append(sizes, 20<<20)
	}
	keys := map[cap.Format]*rsa.PrivateKey{cap.SDMF: testgrid.Key(t), cap.MDMF: otherKey(t)}
	for _, f := range []cap.Format{cap.SDMF, cap.MDMF} {
		var c *cap.Mutable
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%v/%d", f, size), func(t *testing.T) {
				data := random(size)
				var res *publish.Result
				var err error
				if c == nil { // one key, one slot: create once, then update
					res, err = p.Create(ctx, keys[f], data, publish.Params{Format: f, K: 3, N: 10})
				} else {
					var m *publish.Map
					if m, err = p.Map(ctx, c); err == nil {
						res, err = p.Update(ctx, m, data)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				c = res.Cap
				if res.Happiness != 5 {
					t.Errorf("happiness %d, want 5 (%v)", res.Happiness, res.Placed)
				}
				got, _ := mustRead(t, p, res.Cap)
				if !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes, differ from the %d written", len(got), len(data))
				}
			})
		}
		if c == nil {
			continue
		}
		// Creating over an existing slot fails: its shares are not empty.
		_, err := p.Create(ctx, keys[f], nil, publish.Params{Format: f, K: 3, N: 10})
		if !errkind.Is(err, errkind.Conflict) {
			t.Errorf("create over an existing %v slot: %v, want a conflict", f, err)
		}
	}
}

var (
	keyOnce sync.Once
	key2    *rsa.PrivateKey
)

// otherKey is a second test key, made once.
func otherKey(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key2, err = rsakey.Generate(); err != nil {
			t.Fatal(err)
		}
	})
	return key2
}

// TestUpdateRealGrid updates mutables Tahoe 1.20 wrote, on servers that
// keep Tahoe's write enablers: a wrongly derived write enabler is refused.
func TestUpdateRealGrid(t *testing.T) {
	tg := testgrid.RealGrid(t)
	p := newPublisher(t, tg.Grid(), 4)
	ctx := context.Background()
	n := 0
	for _, o := range testutil.GridObjects(t) {
		c, err := cap.Parse(o.Cap)
		if err != nil {
			t.Fatal(err)
		}
		mc, ok := c.(*cap.Mutable)
		if !ok || mc.Dir {
			continue
		}
		n++
		_, before := mustRead(t, p, mc)
		data := []byte("rewritten by tahoe-watch " + o.Format)
		m, err := p.Map(ctx, mc)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Update(ctx, m, data)
		if err != nil {
			t.Fatalf("%s: %v", o.Format, err)
		}
		got, seq := mustRead(t, p, mc)
		if !bytes.Equal(got, data) || seq != before+1 || res.Seqnum != seq {
			t.Errorf("%s: read %q at seqnum %d (published %d), want %q at %d", o.Format, got, seq, res.Seqnum, data, before+1)
		}
	}
	if n < 3 {
		t.Fatalf("only %d mutable files in objects.json", n)
	}
}

// TestWrongWriteEnabler proves the test above can fail: a server id
// unlike Tahoe's gives a write enabler the servers refuse.
func TestWrongWriteEnabler(t *testing.T) {
	tg := testgrid.RealGrid(t)
	var servers []*grid.ServerInfo
	for _, s := range tg.Grid().Servers {
		c := *s
		c.FURL, c.TubID = "", nil
		servers = append(servers, &c)
	}
	p := newPublisher(t, grid.NewGrid(servers), 1)
	mc := cap.MustParse(testutil.GridObjects(t)[0].Cap).(*cap.Mutable)
	m, err := p.Map(context.Background(), mc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Update(context.Background(), m, []byte("x")); err == nil {
		t.Fatal("update with write enablers from the wrong server ids succeeded")
	}
}

// TestConcurrentUpdaters races two writers, 100 updates each, with a
// reader checking that every read is a version somebody wrote, whole.
func TestConcurrentUpdaters(t *testing.T) {
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 4)
	ctx := context.Background()
	res, err := p.Create(ctx, testgrid.Key(t), []byte("v0"), publish.Params{Format: cap.MDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cap
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	var mu sync.Mutex
	written := map[string]bool{"v0": true}
	wins := 0
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				v := fmt.Sprintf("writer %d round %d %x", w, i, random(64))
				mu.Lock()
				written[v] = true
				mu.Unlock()
				m, err := p.Map(ctx, c)
				if err == nil {
					_, err = p.Update(ctx, m, []byte(v))
				}
				if err != nil {
					if !errkind.Is(err, errkind.Conflict) {
						t.Errorf("writer %d: %v", w, err)
					}
					continue
				}
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	reads, failed := 0, 0
	go func() {
		defer close(done)
		for {
			select {
			case <-done:
				return
			default:
			}
			b, _, _, err := p.Get(ctx, c)
			mu.Lock()
			if err != nil {
				failed++
			} else if !written[string(b)] {
				t.Errorf("read %q, which nobody wrote", b)
			}
			reads++
			mu.Unlock()
			if reads > 10000 {
				return
			}
		}
	}()
	wg.Wait()
	done <- struct{}{}
	<-done
	_, seq := mustRead(t, p, c)
	t.Logf("%d of %d writes won, %d reads (%d failed transiently)", wins, 2*rounds, reads, failed)
	if seq != uint64(1+wins) {
		t.Errorf("final seqnum %d, want 1 + %d successful writes", seq, wins)
	}
	if wins == 0 {
		t.Error("no write succeeded")
	}
}

// TestServerDiesMidPublish stops a server between the servermap update
// and the write: the publish moves its shares to the others.
func TestServerDiesMidPublish(t *testing.T) {
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 4)
	ctx := context.Background()
	res, err := p.Create(ctx, testgrid.Key(t), []byte("old"), publish.Params{Format: cap.SDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Map(ctx, res.Cap)
	if err != nil {
		t.Fatal(err)
	}
	tg.Servers[2].Stop()
	res2, err := p.Update(ctx, m, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Happiness != 4 {
		t.Errorf("happiness %d, want 4", res2.Happiness)
	}
	if got, _ := mustRead(t, p, res.Cap); string(got) != "new" {
		t.Errorf("read %q", got)
	}
	// With happy 5 and a second server gone, the publish must fail and
	// say why, and the file must still read as one of its versions.
	p.Happy = 5
	m, _ = p.Map(ctx, res.Cap)
	tg.Servers[3].Stop()
	_, err = p.Update(ctx, m, []byte("newer"))
	if err == nil || !errkind.Is(err, errkind.Unreachable) {
		t.Fatalf("publish to 3 of 5 servers with happy 5: %v", err)
	}
	t.Log(err)
	if got, _ := mustRead(t, p, res.Cap); string(got) != "new" && string(got) != "newer" {
		t.Errorf("after failed publish read %q", got)
	}
}

func TestHappiness(t *testing.T) {
	for _, tc := range []struct {
		placed map[string][]int
		want   int
	}{
		{map[string][]int{}, 0},
		{map[string][]int{"a": {0, 1}, "b": {0}, "c": {1}}, 3 - 1},
		{map[string][]int{"a": {0}, "b": {1}, "c": {2}}, 3},
		{map[string][]int{"a": {0, 1}, "b": {0}}, 2},
		{map[string][]int{"a": {0}, "b": {0}, "c": {0}}, 1},
	} {
		if got := publish.Happiness(tc.placed); got != tc.want {
			t.Errorf("Happiness(%v) = %d, want %d", tc.placed, got, tc.want)
		}
	}
}

// TestServerStopsDuringPublish stops a server while a multi-megabyte
// version is being written to it. Either outcome is allowed, success on
// the others or a clear error, but the file must read back whole as the
// old version or the new one.
func TestServerStopsDuringPublish(t *testing.T) {
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 4)
	ctx := context.Background()
	old := random(4 << 20)
	res, err := p.Create(ctx, otherKey(t), old, publish.Params{Format: cap.MDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Map(ctx, res.Cap)
	if err != nil {
		t.Fatal(err)
	}
	last := m.Servers[len(m.Servers)-1] // not the lead: its shares go out in parallel
	var victim *testgrid.Server
	for _, s := range tg.Servers {
		if s.Info.ID == last.ID {
			victim = s
		}
	}
	next := random(4 << 20)
	done := make(chan error)
	go func() { _, err := p.Update(ctx, m, next); done <- err }()
	victim.Stop()
	err = <-done
	t.Logf("publish with %s stopped midway: %v", victim.Nickname, err)
	if err != nil && !errkind.Is(err, errkind.Unreachable) {
		t.Errorf("unclear failure: %v", err)
	}
	got, seq := mustRead(t, p, res.Cap)
	switch {
	case bytes.Equal(got, next) && seq == 2:
	case bytes.Equal(got, old) && seq == 1 && err != nil:
	default:
		t.Fatalf("read seqnum %d, %d bytes: neither version (publish error %v)", seq, len(got), err)
	}
}

// TestHungServer: a server that never answers costs one timeout; its
// shares go to the others.
func TestHungServer(t *testing.T) {
	tg := testgrid.New(t, 4)
	tg.AddHung()
	p := newPublisher(t, tg.Grid(), 4)
	p.Timeout = 2 * time.Second // far above an honest answer even on a loaded CI machine
	res, err := p.Create(context.Background(), testgrid.Key(t), []byte("hung"), publish.Params{Format: cap.SDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, nums := range res.Placed {
		n += len(nums)
	}
	if res.Happiness != 4 || n != 10 {
		t.Errorf("happiness %d with %d shares: %v", res.Happiness, n, res.Placed)
	}
	if got, _ := mustRead(t, p, res.Cap); string(got) != "hung" {
		t.Errorf("read %q", got)
	}
}

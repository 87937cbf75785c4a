package watcher_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// waitFinal reads events until seqnum final, checking order and
// uniqueness.
func waitFinal(t *testing.T, ch <-chan events.Event, first, final uint64) {
	t.Helper()
	prev := first
	for prev != final {
		e := next(t, ch, 30*time.Second)
		if e.Type != events.Changed {
			t.Fatalf("unexpected %+v", e)
		}
		if e.Seqnum <= prev || e.PreviousSeqnum != prev {
			t.Fatalf("seq %d (was %d) after %d", e.Seqnum, e.PreviousSeqnum, prev)
		}
		prev = e.Seqnum
	}
}

func TestServerRestartLosesNothing(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	w, ch := watch(t, g, watcher.Options{Poll: 500 * time.Millisecond, MaxRetry: 300 * time.Millisecond}, c)
	var last uint64
	for i := range 30 {
		switch i {
		case 10:
			g.Nodes[1].Stop()
		case 20:
			if err := g.Nodes[1].Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		last = put(t, p, c, []byte(fmt.Sprintf("v%d", i+2)))
	}
	waitFinal(t, ch, 1, last)
	quiet(t, ch, 500*time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := w.Status().Servers
		var st watcher.ServerStatus
		for _, x := range s {
			if x.ID == g.Nodes[1].Info.ID {
				st = x
			}
		}
		if st.Mode == watcher.ModePush && st.Reconnects >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted server not back to push: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A change made after the restart is still pushed.
	seq := put(t, p, c, []byte("after"))
	waitFinal(t, ch, last, seq)
}

func TestRefreshResubscribesEveryServer(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: 300 * time.Millisecond}, c)
	deadline := time.Now().Add(20 * time.Second)
	for {
		done := true
		for _, s := range w.Status().Servers {
			if s.Refreshes < 2 || s.Mode != watcher.ModePush {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers not refreshed: %+v", w.Status().Servers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The acknowledgements match the verified version: nothing is
	// re-read, and no connection is redialed.
	before := w.Status().Caps[0].Checks
	time.Sleep(time.Second)
	if after := w.Status().Caps[0].Checks; after != before {
		t.Errorf("an idle cap was re-mapped on refresh (%d checks, then %d)", before, after)
	}
	for _, s := range w.Status().Servers {
		if s.Subscribes != 1 {
			t.Errorf("server %s: %d connections subscribed, want 1 (refreshes reuse it)", s.Name, s.Subscribes)
		}
	}
	quiet(t, ch, 100*time.Millisecond)
	// Changes still arrive, once, across the resubscriptions.
	var last uint64
	for i := range 5 {
		last = put(t, p, c, []byte(fmt.Sprintf("v%d", i+2)))
		time.Sleep(200 * time.Millisecond)
	}
	waitFinal(t, ch, 1, last)
	quiet(t, ch, time.Second)
}

// liar wraps a real watch connection and adds notices of changes that
// did not happen.
type liar struct {
	watcher.Conn
	notices chan watchproto.Notice
	once    sync.Once
	lie     func() []watchproto.Notice
}

func (l *liar) Notices() <-chan watchproto.Notice {
	l.once.Do(func() {
		go func() {
			defer close(l.notices)
			for _, n := range l.lie() {
				l.notices <- n
			}
			for n := range l.Conn.Notices() {
				l.notices <- n
			}
		}()
	})
	return l.notices
}

func TestBogusNoticesYieldNoEvent(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	bad := g.Nodes[0].Info.ID
	var lies int
	var mu sync.Mutex
	dial := func(ctx context.Context, s *watcher.Server) (watcher.Conn, error) {
		conn, err := watcher.DialWatch(ctx, s)
		if err != nil || s.Info.ID != bad {
			return conn, err
		}
		return &liar{Conn: conn, notices: make(chan watchproto.Notice), lie: func() []watchproto.Notice {
			mu.Lock()
			defer mu.Unlock()
			lies++
			var out []watchproto.Notice
			for seq := uint64(2); seq < 12; seq++ {
				out = append(out, watchproto.Notice{SI: c.SI, Shnum: 0, Seqnum: seq * 1000, Root: make([]byte, 32)})
			}
			return out
		}}, nil
	}
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Dial: dial}, c)
	deadline := time.Now().Add(10 * time.Second)
	for w.Status().Caps[0].Checked.IsZero() || w.Status().Caps[0].Pending {
		if time.Now().After(deadline) {
			t.Fatal("the lies were never checked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	quiet(t, ch, time.Second)
	// The truth still gets through, with the right seqnum.
	seq := put(t, p, c, []byte("v2"))
	waitFinal(t, ch, 1, seq)
	if lies == 0 {
		t.Fatal("the liar never dialed")
	}
}

func TestRolledBackServerIgnored(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	old := snapshotShares(t, g.Nodes[0], c)
	w, ch := watch(t, g, watcher.Options{Poll: 200 * time.Millisecond, Refresh: 500 * time.Millisecond,
		MaxRetry: 200 * time.Millisecond}, c)
	seq := put(t, p, c, []byte("v2"))
	waitFinal(t, ch, 1, seq)
	// A refresh's acknowledgement (or a map) has seen version 2 on server 0.
	n := w.Status().Servers[0].Refreshes
	waitFor(t, 10*time.Second, "a refresh", func() bool { return refreshedAll(w, n+1) })
	// Server 0 goes back to version 1 behind everyone's back.
	g.Nodes[0].Stop()
	restoreShares(t, old)
	if err := g.Nodes[0].Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Reconnect, resubscribe, refresh and polls: no change, and one
	// warning naming the server that rolled back.
	e := next(t, ch, 10*time.Second)
	if e.Type != events.Warning || e.Warning != events.WarnBadShare || e.Server != g.Nodes[0].Info.ID ||
		!strings.Contains(e.Message, "rolled back") {
		t.Fatalf("event %+v, want a bad-share warning naming %s", e, g.Nodes[0].Info.ID)
	}
	quiet(t, ch, time.Second)
	seq2 := put(t, p, c, []byte("v3"))
	waitFinal(t, ch, seq, seq2)
}

// snapshotShares copies a node's share files of c.
func snapshotShares(t *testing.T, n *demo.Node, c *cap.Mutable) map[string][]byte {
	t.Helper()
	si := base32.Encode(c.SI)
	dir := filepath.Join(n.Base, "storage", "shares", si[:2], si)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no shares in %s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Join(dir, e.Name())] = b
	}
	return out
}

func restoreShares(t *testing.T, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefusedSubscriptionIsPolled(t *testing.T) {
	g := startGrid(t, demo.GridOptions{Watch: watchserver.Options{MaxSubsPerConn: 1}})
	p := newPublisher(t, g.Grid())
	a := create(t, p, false, []byte("a1"))
	b := create(t, p, false, []byte("b1"))
	w, ch := watch(t, g, watcher.Options{Poll: 300 * time.Millisecond}, a, b)
	for _, s := range w.Status().Servers {
		// A refused subscription is polled, and the mode says so.
		if s.Mode != watcher.ModePoll || s.Subscribed != 1 || s.Polled != 1 {
			t.Fatalf("server %s: %s with %d subscriptions and %d polled, want poll with 1 and 1 (the other refused)",
				s.Name, s.Mode, s.Subscribed, s.Polled)
		}
	}
	// Whichever cap was refused is polled; both changes are seen.
	put(t, p, a, []byte("a2"))
	put(t, p, b, []byte("b2"))
	seen := map[string]events.Event{}
	for len(seen) < 2 {
		e := next(t, ch, 10*time.Second)
		seen[e.Cap] = e
	}
	vias := map[events.Via]bool{}
	for _, e := range seen {
		if e.Seqnum != 2 {
			t.Errorf("event %+v, want seq 2", e)
		}
		vias[e.Via] = true
	}
	// Each server keeps whichever subscription reached it first, so when
	// servers refused different caps both changes can arrive by push; when
	// they refused the same one, only the poll fallback delivers it within
	// the deadline above (the default refresh is minutes away).
	if !vias[events.ViaPush] {
		t.Errorf("vias %v, want at least one push", vias)
	}
}

func TestHungServerDoesNotStopEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	g := startGrid(t, demo.GridOptions{})
	hung := testgrid.New(t, 0).AddHung()
	full := grid.NewGrid(append(g.Grid().Servers, hung))
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	w, err := watcher.New([]cap.Cap{c}, watcher.Options{Grid: full, Poll: time.Hour, MapTimeout: 3 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan events.Event, 16)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, func(e events.Event) { ch <- e }) }()
	defer func() { cancel(); <-done }()
	select {
	case <-w.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("not ready with a hung server")
	}
	seq := put(t, p, c, []byte("v2"))
	e := next(t, ch, 10*time.Second)
	if e.Seqnum != seq || e.Via != events.ViaPush {
		t.Fatalf("event %+v", e)
	}
	// The hung server, known down since the first map, is not asked
	// again: the verification does not wait for its timeout.
	if e.LatencyMS >= 1500 {
		t.Errorf("notice to event %.0f ms: the verification waited for the hung server", e.LatencyMS)
	}
	for _, s := range w.Status().Servers {
		if s.ID == hung.ID && s.Mode == watcher.ModePush {
			t.Errorf("hung server in push mode")
		}
	}
}

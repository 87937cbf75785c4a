package watcher_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// dialCounter wraps the real dialer, counting dials per server. A failed
// dial is reported as refused for want of an endpoint (errkind.NotFound),
// as a 404 handshake is.
type dialCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *dialCounter) dial(ctx context.Context, s *watcher.Server) (watcher.Conn, error) {
	d.mu.Lock()
	d.n[s.Info.ID]++
	d.mu.Unlock()
	c, err := watcher.DialWatch(ctx, s)
	if err != nil {
		return nil, errkind.E("test.dial", errkind.NotFound, err)
	}
	return c, nil
}

func (d *dialCounter) get(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[id]
}

// TestMixedGridPushesWhereItCan: servers with a watch endpoint are
// pushed, the others polled, each dialled once until a refresh looks
// again (not every backoff period).
func TestMixedGridPushesWhereItCan(t *testing.T) {
	pushG := startGrid(t, demo.GridOptions{Servers: 3})
	pollG := startGrid(t, demo.GridOptions{Servers: 2, NoWatch: true})
	full := grid.NewGrid(append(pushG.Grid().Servers, pollG.Grid().Servers...))
	p := newPublisher(t, full)
	c := create(t, p, false, []byte("v1"))
	d := &dialCounter{n: map[string]int{}}
	w, err := watcher.New([]cap.Cap{c}, watcher.Options{Grid: full, Poll: 200 * time.Millisecond,
		MaxRetry: 50 * time.Millisecond, Dial: d.dial, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ch := runWatcher(t, w)
	time.Sleep(time.Second) // 20 backoff periods: no redial of a refusing server
	modes := map[string]watcher.Mode{}
	for _, s := range w.Status().Servers {
		modes[s.ID] = s.Mode
	}
	for _, n := range pushG.Nodes {
		if modes[n.Info.ID] != watcher.ModePush || d.get(n.Info.ID) != 1 {
			t.Errorf("watch server %s: %s after %d dials, want push after 1", n.Nickname, modes[n.Info.ID], d.get(n.Info.ID))
		}
	}
	for _, n := range pollG.Nodes {
		if modes[n.Info.ID] != watcher.ModePoll || d.get(n.Info.ID) != 1 {
			t.Errorf("server without endpoint %s: %s after %d dials, want poll after 1", n.Nickname, modes[n.Info.ID], d.get(n.Info.ID))
		}
	}
	seq := put(t, p, c, []byte("v2"))
	if e := next(t, ch, 10*time.Second); e.Seqnum != seq || e.Via != events.ViaPush {
		t.Fatalf("event %+v, want seq %d via push", e, seq)
	}
	// A refresh looks at every server again.
	w.Refresh()
	deadline := time.Now().Add(10 * time.Second)
	for d.get(pollG.Nodes[0].Info.ID) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a refresh did not look at the server without endpoint again")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runWatcher runs w until the test ends, waits for it to be ready and
// returns its events.
func runWatcher(t *testing.T, w *watcher.Watcher) <-chan events.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan events.Event, 1000)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, func(e events.Event) { ch <- e }) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-w.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("watcher not ready after 30s")
	}
	return ch
}

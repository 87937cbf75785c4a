package watcher_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// dialCounter wraps the real dialer, counting dials per server.
type dialCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *dialCounter) dial(ctx context.Context, s *watcher.Server) (watcher.Conn, error) {
	d.mu.Lock()
	d.n[s.Info.ID]++
	d.mu.Unlock()
	return watcher.DialWatch(ctx, s)
}

func (d *dialCounter) get(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[id]
}

// TestMixedGridPushesWhereItCan: servers advertising the watch endpoint
// are pushed; a server advertising none is polled without ever being
// dialled; a watch NURL that answers 404 is dialled once, then polled
// until a refresh looks again (not redialled every backoff period).
func TestMixedGridPushesWhereItCan(t *testing.T) {
	pushG := startGrid(t, demo.GridOptions{Servers: 3})
	pollG := startGrid(t, demo.GridOptions{Servers: 2, NoWatch: true})
	stale, plain := pollG.Nodes[0].Info, pollG.Nodes[1].Info
	stale.WatchNURLs = stale.NURLs // a sidecar announced that is not there: 404
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
	for id, want := range map[string]int{stale.ID: 1, plain.ID: 0} {
		if modes[id] != watcher.ModePoll || d.get(id) != want {
			t.Errorf("server %s without endpoint: %s after %d dials, want poll after %d", id, modes[id], d.get(id), want)
		}
	}
	seq := put(t, p, c, []byte("v2"))
	if e := next(t, ch, 10*time.Second); e.Seqnum != seq || e.Via != events.ViaPush {
		t.Fatalf("event %+v, want seq %d via push", e, seq)
	}
	// A refresh looks at every server again: the stale watch NURL is
	// tried once more; the plain server, still advertising nothing, is not.
	w.Refresh()
	deadline := time.Now().Add(10 * time.Second)
	for d.get(stale.ID) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a refresh did not look at the refusing server again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := d.get(plain.ID); n != 0 {
		t.Errorf("server advertising no endpoint was dialled %d times", n)
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

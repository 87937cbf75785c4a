package watcher_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// waitFor polls cond every 20 ms until it holds, failing after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refreshedAll reports whether every server of w has done n refreshes.
func refreshedAll(w *watcher.Watcher, n int) bool {
	for _, s := range w.Servers() {
		if s.Refreshes < n {
			return false
		}
	}
	return true
}

func TestIdleRefreshMakesNoRequest(t *testing.T) {
	g := startCountGrid(t, 5)
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: 150 * time.Millisecond, Remap: time.Hour}, c)
	waitFor(t, 20*time.Second, "a first refresh", func() bool { return refreshedAll(w, 1) })
	before := g.reqs()
	n := w.Status().Servers[0].Refreshes
	waitFor(t, 20*time.Second, "three more refreshes", func() bool { return refreshedAll(w, n+4) })
	if after := g.reqs(); !slices.Equal(before, after) {
		t.Errorf("idle refreshes made GBS requests: per server %v, then %v", before, after)
	}
	for _, s := range w.Status().Servers {
		if s.Mode != watcher.ModePush || s.Subscribed != 1 {
			t.Errorf("server %s: %s with %d subscriptions, want push with 1", s.Name, s.Mode, s.Subscribed)
		}
	}
	quiet(t, ch, 50*time.Millisecond)
	seq := put(t, p, c, []byte("v2"))
	if e := next(t, ch, 10*time.Second); e.Seqnum != seq || e.Via != events.ViaPush {
		t.Errorf("event %+v, want seq %d via push", e, seq)
	}
}

// gate dials watch connections while open, and can cut them all.
type gate struct {
	closed atomic.Bool
	mu     sync.Mutex
	conns  []watcher.Conn
}

func (g *gate) dial(ctx context.Context, s *watcher.Server) (watcher.Conn, error) {
	if g.closed.Load() {
		return nil, errors.New("gate closed")
	}
	c, err := watcher.DialWatch(ctx, s)
	if err == nil {
		g.mu.Lock()
		g.conns = append(g.conns, c)
		g.mu.Unlock()
	}
	return c, err
}

// cut closes every connection and refuses new ones until open.
func (g *gate) cut() {
	g.closed.Store(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}

func TestChangeWhileDisconnectedIsReported(t *testing.T) {
	g := startCountGrid(t, 5)
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	var gt gate
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: time.Hour, MaxRetry: 300 * time.Millisecond, Dial: gt.dial}, c)
	gt.cut()
	waitFor(t, 10*time.Second, "every connection to be lost", func() bool {
		for _, s := range w.Status().Servers {
			if s.Mode == watcher.ModePush || s.Polls == 0 {
				return false
			}
		}
		return true
	})
	seq := put(t, p, c, []byte("made while cut off"))
	quiet(t, ch, 500*time.Millisecond) // no push, and the next poll is an hour away
	gt.closed.Store(false)
	e := next(t, ch, 10*time.Second)
	if e.Type != events.Changed || e.Seqnum != seq || e.Via != events.ViaPush {
		t.Errorf("event %+v, want changed seq %d via push (from the resubscription)", e, seq)
	}
}

func TestServerNewlyHoldingSharesIsFound(t *testing.T) {
	g := startCountGrid(t, 6) // 5 shares: one server holds none
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: time.Hour, Remap: time.Hour}, c)
	holders := w.Status().Caps[0].Holders
	var empty, full *countNode
	for _, n := range g.Nodes {
		if len(holders[n.Info.ID]) == 0 {
			empty = n
		} else {
			full = n
		}
	}
	if empty == nil || full == nil {
		t.Fatalf("holders %v: want one server without shares", holders)
	}
	copyShares(t, full, empty, c.SI)
	w.Refresh()
	waitFor(t, 10*time.Second, "the new holder to be found", func() bool {
		return len(w.Status().Caps[0].Holders[empty.Info.ID]) > 0
	})
	quiet(t, ch, 100*time.Millisecond) // the same version: no event
}

package watcher_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// TestReadyEventFirstWithTrueCounts: the ready event comes once, before
// the change made while the watcher was starting, and counts what is
// true: 3 caps; with one subscription per connection allowed, every
// server refuses two and is polled for them, so all 5 count as poll.
// Which cap a server accepts is arbitrary (its first subscribe holds all
// three), so there the change after ready may come by a poll: every
// second.
func TestReadyEventFirstWithTrueCounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		poll  time.Duration
		modes map[string]int
	}{
		{"push", 0, time.Hour, map[string]int{"push": 5}},
		{"over-limit counts as poll", 1, time.Second, map[string]int{"poll": 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGrid(t, demo.GridOptions{Watch: watchserver.Options{MaxSubsPerConn: tc.limit}})
			p := newPublisher(t, g.Grid())
			var caps []cap.Cap
			for i := range 3 {
				caps = append(caps, create(t, p, false, []byte(fmt.Sprintf("file %d", i))))
			}
			o := watcher.Options{Grid: g.Grid(), Poll: tc.poll, ReadyEvent: true, Logger: testLogger()}
			w, err := watcher.New(caps, o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			ch := make(chan events.Event, 100)
			done := make(chan struct{})
			go func() { defer close(done); w.Run(ctx, func(e events.Event) { ch <- e }) }()
			defer func() { cancel(); <-done }()
			put(t, p, caps[0].(*cap.Mutable), []byte("changed while starting"))
			e := next(t, ch, 30*time.Second)
			if e.Type != events.Ready || e.Caps != 3 || fmt.Sprint(e.Modes) != fmt.Sprint(tc.modes) {
				t.Fatalf("first event %+v, want ready with 3 caps and modes %v", e, tc.modes)
			}
			if e.Type.IsChange() {
				t.Error("a ready event counts as a change")
			}
			// Changes follow (the one made while starting, unless the
			// baseline already saw it), never a second ready.
			seq := put(t, p, caps[0].(*cap.Mutable), []byte("changed after ready"))
			for {
				e := next(t, ch, 20*time.Second)
				if e.Type == events.Ready {
					t.Fatalf("a second ready event %+v", e)
				}
				if e.Type == events.Changed && e.Seqnum == seq {
					break
				}
			}
			quiet(t, ch, 200*time.Millisecond)
		})
	}
}

// TestStoppedServerIsDown: a server that refuses connections from the
// start is counted down in the ready event and its status, with no
// claimed contact or round-trip time, though it has nothing to poll.
func TestStoppedServerIsDown(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("one file"))
	g.Nodes[4].Stop()
	w, err := watcher.New([]cap.Cap{c}, watcher.Options{Grid: g.Grid(), Poll: 100 * time.Millisecond, ReadyEvent: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan events.Event, 100)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, func(e events.Event) { ch <- e }) }()
	defer func() { cancel(); <-done }()
	if e := next(t, ch, 30*time.Second); e.Type != events.Ready || e.Modes["down"] != 1 || e.Modes["push"] != 4 {
		t.Fatalf("first event %+v, want ready with 4 push and 1 down", e)
	}
	time.Sleep(300 * time.Millisecond) // a few polls of the stopped server
	for _, s := range w.Status().Servers {
		if s.ID != g.Nodes[4].Info.ID {
			continue
		}
		if s.Mode != watcher.ModeDown || s.Latency != 0 || !s.LastContact.IsZero() {
			t.Fatalf("stopped server: mode %s, latency %v, last contact %v", s.Mode, s.Latency, s.LastContact)
		}
		return
	}
	t.Fatal("the stopped server is not in the status")
}

package watcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// TestRuntimeAddPauseResumeRemove drives one watcher started with no cap:
// an added cap is mapped before Add returns and its changes reported; a
// paused one reports nothing until Resume, which reports the change made
// meanwhile; a removed one is gone.
func TestRuntimeAddPauseResumeRemove(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	rc := c.ReadOnly().String()
	w, err := watcher.New(nil, watcher.Options{Grid: g.Grid(), Poll: time.Hour, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ch := runWatcher(t, w)
	if err := w.Add(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	st := w.Status().Caps
	if len(st) != 1 || !st[0].Known || st[0].Seqnum != 1 || st[0].K != 3 || st[0].N != 5 || len(st[0].Holders) != 5 {
		t.Fatalf("status after Add %+v, want seq 1, 3-of-5 on 5 servers", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Status().Servers[0].Subscribed != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	seq := put(t, p, c, []byte("v2"))
	if e := next(t, ch, 10*time.Second); e.Seqnum != seq || e.Via != events.ViaPush {
		t.Fatalf("event %+v, want seq %d via push", e, seq)
	}
	if cs := w.Status().Caps[0]; cs.LastChange.IsZero() || cs.LastVia != events.ViaPush {
		t.Errorf("last change %v via %q", cs.LastChange, cs.LastVia)
	}
	if err := w.Pause(rc); err != nil {
		t.Fatal(err)
	}
	seq = put(t, p, c, []byte("v3"))
	quiet(t, ch, time.Second)
	if cs := w.Status().Caps[0]; !cs.Paused || cs.Seqnum != 2 {
		t.Errorf("paused status %+v", cs)
	}
	if err := w.Resume(rc); err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch, 10*time.Second); e.Seqnum != seq || e.PreviousSeqnum != 2 {
		t.Fatalf("event after resume %+v, want seq %d (was 2)", e, seq)
	}
	if err := w.Remove(rc); err != nil {
		t.Fatal(err)
	}
	if n := len(w.Status().Caps); n != 0 {
		t.Errorf("%d caps after Remove", n)
	}
	put(t, p, c, []byte("v4"))
	quiet(t, ch, time.Second)
	if err := w.Remove(rc); err == nil {
		t.Error("removing an unwatched cap did not fail")
	}
}

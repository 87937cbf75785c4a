package watcher_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

func TestPutYieldsOneChangedEvent(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("one"))
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour}, c)
	for _, s := range w.Status().Servers {
		if s.Mode != watcher.ModePush {
			t.Errorf("server %s: mode %s, want push", s.Name, s.Mode)
		}
	}
	seq := put(t, p, c, []byte("two"))
	e := next(t, ch, 10*time.Second)
	if e.Type != events.Changed || e.Seqnum != seq || e.PreviousSeqnum != 1 || e.Via != events.ViaPush {
		t.Fatalf("event %+v, want changed seq %d (was 1) via push", e, seq)
	}
	if e.Cap != c.ReadOnly().String() {
		t.Errorf("event cap %q, want the read cap", e.Cap)
	}
	if e.Size != 3 {
		t.Errorf("size %d, want 3", e.Size)
	}
	quiet(t, ch, 500*time.Millisecond)
}

func TestBackToBackUpdatesInOrder(t *testing.T) {
	n := 1000 // WATCHER_UPDATES overrides; -race: 200; -short: 30
	if raceEnabled {
		n = 200
	}
	if s := os.Getenv("WATCHER_UPDATES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 30
	}
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	_, ch := watch(t, g, watcher.Options{Poll: time.Hour}, c)
	var last uint64
	for i := range n {
		last = put(t, p, c, []byte(fmt.Sprintf("v%d", i+2)))
	}
	var prev uint64 = 1
	for {
		e := next(t, ch, 20*time.Second)
		if e.Type != events.Changed {
			t.Fatalf("unexpected %+v", e)
		}
		if e.Seqnum <= prev || e.PreviousSeqnum != prev {
			t.Fatalf("event seq %d (was %d) after %d: out of order or duplicate", e.Seqnum, e.PreviousSeqnum, prev)
		}
		prev = e.Seqnum
		if prev == last {
			break
		}
	}
	quiet(t, ch, 500*time.Millisecond)
}

func TestPollOnlyGrid(t *testing.T) {
	g := startGrid(t, demo.GridOptions{NoWatch: true})
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("one"))
	poll := 300 * time.Millisecond
	w, ch := watch(t, g, watcher.Options{Poll: poll}, c)
	for _, s := range w.Status().Servers {
		if s.Mode != watcher.ModePoll {
			t.Errorf("server %s: mode %s, want poll", s.Name, s.Mode)
		}
	}
	seq := put(t, p, c, []byte("two"))
	start := time.Now()
	e := next(t, ch, 10*time.Second)
	if e.Type != events.Changed || e.Seqnum != seq || e.Via != events.ViaPoll {
		t.Fatalf("event %+v, want changed seq %d via poll", e, seq)
	}
	// Within one poll interval plus the verification, generously.
	if d := time.Since(start); d > poll+5*time.Second {
		t.Errorf("detected after %s", d)
	}
	quiet(t, ch, 2*poll)
}

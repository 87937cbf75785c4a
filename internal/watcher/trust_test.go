package watcher_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// spammer is a real watch connection to one server to which a liar adds
// a notice of a higher seqnum every period, for as long as it is open:
// what an endpoint holding the node's own TLS key could send.
type spammer struct {
	watcher.Conn
	out chan watchproto.Notice
}

func newSpammer(c watcher.Conn, si []byte, period time.Duration, stop <-chan struct{}) *spammer {
	s := &spammer{Conn: c, out: make(chan watchproto.Notice)}
	go func() {
		defer close(s.out)
		tick := time.NewTicker(period)
		defer tick.Stop()
		in := c.Notices()
		seq := uint64(1000)
		for {
			var n watchproto.Notice
			select {
			case <-c.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				n = m
			case <-tick.C:
				select {
				case <-stop:
					continue
				default:
				}
				seq++
				n = watchproto.Notice{SI: si, Shnum: 0, Seqnum: seq, Root: make([]byte, watchproto.RootLen)}
			}
			select {
			case s.out <- n:
			case <-c.Done():
				return
			}
		}
	}()
	return s
}

func (s *spammer) Notices() <-chan watchproto.Notice { return s.out }

// TestLyingServerCostsHonestOnesLittle: one server sends a false notice
// every 2 ms (for WATCHER_LIE_SECONDS, default 3 s: 1,500 notices; the
// issue's 10 s with WATCHER_LIE_SECONDS=10). Each honest server serves
// at most a few dozen requests for it, counted at the server, the liar
// is named in a false-notices warning, and no change is reported.
func TestLyingServerCostsHonestOnesLittle(t *testing.T) {
	d := 3 * time.Second
	if s := os.Getenv("WATCHER_LIE_SECONDS"); s != "" {
		v, err := time.ParseDuration(s + "s")
		if err != nil {
			t.Fatal(err)
		}
		d = v
	}
	g := startCountGrid(t, 5)
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	liar := g.Nodes[0].Info.ID
	stop := make(chan struct{})
	dial := func(ctx context.Context, s *watcher.Server) (watcher.Conn, error) {
		conn, err := watcher.DialWatch(ctx, s)
		if err != nil || s.Info.ID != liar {
			return conn, err
		}
		return newSpammer(conn, c.SI, 2*time.Millisecond, stop), nil
	}
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: time.Hour, Dial: dial}, c)
	before := g.reqs()
	var warned *events.Event
	deadline := time.After(d)
	giveUp := time.After(d + 15*time.Second) // a loaded machine verifies slowly
	done := false
wait:
	for !done || warned == nil {
		select {
		case <-giveUp:
			break wait
		case e := <-ch:
			if e.Type != events.Warning || e.Warning != events.WarnFalseNotices {
				t.Fatalf("unexpected event %+v", e)
			}
			if warned != nil {
				t.Errorf("a second warning %+v", e)
			}
			warned = &e
		case <-deadline:
			done, deadline = true, nil
		}
	}
	close(stop)
	after := g.reqs()
	for i := 1; i < len(g.Nodes); i++ {
		if n := after[i] - before[i]; n > 30 {
			t.Errorf("honest server %d served %d requests during %s of false notices, want at most 30", i, n, d)
		} else {
			t.Logf("honest server %d: %d requests in %s or more of false notices", i, n, d)
		}
	}
	if warned == nil || warned.Server != liar {
		t.Fatalf("warning %+v, want one naming %s", warned, liar)
	}
	waitFor(t, 10*time.Second, "the liar to be polled", func() bool {
		for _, s := range w.Status().Servers {
			if s.ID == liar {
				return s.Demoted && s.Mode == watcher.ModePoll && s.FalseHints >= 3
			}
		}
		return false
	})
	// The honest servers still push.
	seq := put(t, p, c, []byte("v2"))
	if e := next(t, ch, 10*time.Second); e.Type != events.Changed || e.Seqnum != seq || e.Via != events.ViaPush {
		t.Errorf("event %+v, want changed seq %d via push", e, seq)
	}
}

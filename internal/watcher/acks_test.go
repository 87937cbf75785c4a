package watcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// TestStartupMapsFromAcks: the first maps take the servers' subscribe
// acknowledgements as their listings and read one share of the version
// they claim: 10 planted 3-of-5 files cost the 5 servers 1 GBS request
// per cap (not 10 as listing and reading every share did), plus each
// server's version document, counted at the servers.
func TestStartupMapsFromAcks(t *testing.T) {
	g := startCountGrid(t, 5)
	caps := plantFilesWith(t, g.bases(), genKeys(t, 1), 10)
	before := g.reqs()
	w, _ := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: time.Hour}, caps...)
	var total int64
	for i, r := range g.reqs() {
		total += r - before[i]
	}
	if max := int64(len(caps) + len(g.Nodes)); total > max {
		t.Errorf("starting cost %d GBS requests for %d caps, want at most %d", total, len(caps), max)
	}
	for _, s := range w.Status().Servers {
		if s.Mode != watcher.ModePush || s.Subscribed != len(caps) {
			t.Errorf("server %s: %s with %d subscriptions, want push with %d", s.Name, s.Mode, s.Subscribed, len(caps))
		}
	}
}

// lyingAcks is a real watch connection whose acknowledgements claim, for
// every share, a version 100 seqnums newer than the one held, and a
// share number the server does not hold.
type lyingAcks struct{ watcher.Conn }

func (l lyingAcks) Subscribe(ctx context.Context, subs []watchproto.Sub) ([]watchproto.Result, error) {
	res, err := l.Conn.Subscribe(ctx, subs)
	for i, r := range res {
		var fake []watchproto.ShareState
		for _, sh := range r.Shares {
			root := make([]byte, watchproto.RootLen)
			root[0] = 1
			fake = append(fake, watchproto.ShareState{Shnum: sh.Shnum, Seqnum: sh.Seqnum + 100, Root: root},
				watchproto.ShareState{Shnum: sh.Shnum + 7, Seqnum: sh.Seqnum + 100, Root: root})
		}
		res[i].Shares = fake
	}
	return res, err
}

// TestLyingAckAtStartup: a server whose acknowledgements claim newer
// versions than it holds costs a bounded number of reads (one per
// claimed share), is named (its false hints counted), and changes
// nothing: the baseline is the true version, no change is reported
// for it, and a real change after ready is.
func TestLyingAckAtStartup(t *testing.T) {
	g := startCountGrid(t, 5)
	p := newPublisher(t, g.Grid())
	c := create(t, p, false, []byte("v1"))
	liar := g.Nodes[0].Info.ID
	dial := func(ctx context.Context, s *watcher.Server) (watcher.Conn, error) {
		conn, err := watcher.DialWatch(ctx, s)
		if err != nil || s.Info.ID != liar {
			return conn, err
		}
		return lyingAcks{conn}, nil
	}
	before := g.reqs()
	w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: time.Hour, Dial: dial}, c)
	if n := g.reqs()[0] - before[0]; n > 6 {
		t.Errorf("the liar served %d requests at startup, want at most 6", n)
	}
	waitFor(t, 10*time.Second, "the liar to be named", func() bool {
		for _, s := range w.Status().Servers {
			if s.ID == liar {
				return s.FalseHints >= 1
			}
		}
		return false
	})
	quiet(t, ch, 200*time.Millisecond)
	seq := put(t, p, c, []byte("v2"))
	for {
		e := next(t, ch, 10*time.Second)
		if e.Type == events.Changed && e.Seqnum == seq {
			break
		}
		if e.Type == events.Changed {
			t.Fatalf("event %+v, want changed seq %d", e, seq)
		}
	}
}

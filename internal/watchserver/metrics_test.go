package watchserver

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// gauge reads one unlabelled metric from reg.
func gauge(t testing.TB, reg *metrics.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestHubMetrics follows one connection's life in the server metrics.
func TestHubMetrics(t *testing.T) {
	reg := metrics.NewServer()
	ts := startServer(t, Options{Metrics: reg.Server, KeepAlive: -1})
	c := ts.dial(t)
	for i := range 3 {
		ts.src.set(testSI(i), 0, 1)
		subscribe(t, c, wsub(testSI(i), 1))
	}
	ts.src.set(testSI(1), 0, 2)
	ts.notify(testSI(1), 0)
	select {
	case <-c.Notices():
	case <-time.After(10 * time.Second):
		t.Fatal("no notice")
	}
	waitFor(t, func() bool { return gauge(t, reg, "tahoe_watch_notices_sent_total") == 1 })
	for name, want := range map[string]float64{
		"tahoe_watch_watch_connections":            1,
		"tahoe_watch_watch_subscriptions":          3,
		"tahoe_watch_notice_latency_seconds":       1,
		"tahoe_watch_slow_consumers_dropped_total": 0,
	} {
		if got := gauge(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if err := c.Unsubscribe(context.Background(), [][]byte{testSI(0)}); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg, "tahoe_watch_watch_subscriptions"); got != 2 {
		t.Errorf("subscriptions after unsubscribe = %v, want 2", got)
	}
	c.Close()
	waitFor(t, func() bool { return gauge(t, reg, "tahoe_watch_watch_connections") == 0 })
	if got := gauge(t, reg, "tahoe_watch_watch_subscriptions"); got != 0 {
		t.Errorf("subscriptions after close = %v, want 0", got)
	}
}

// TestResyncClosesEveryConnection: Hub.Resync closes each connection with
// CloseOverflow, which tells the client to re-read, and is not counted as
// a slow consumer.
func TestResyncClosesEveryConnection(t *testing.T) {
	reg := metrics.NewServer()
	ts := startServer(t, Options{Metrics: reg.Server, KeepAlive: -1})
	ts.src.set(testSI(0), 0, 1)
	a, b := ts.dial(t), ts.dial(t)
	subscribe(t, a, wsub(testSI(0), 1))
	subscribe(t, b, wsub(testSI(0), 1))
	idle := ts.rawDial(t) // no subscriptions: still told
	waitFor(t, func() bool { c, _ := ts.hub.Stats(); return c == 3 })
	ts.hub.Resync()
	for _, c := range []*watchproto.Conn{a, b} {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("connection still open after Resync")
		}
		if err := c.Err(); websocket.CloseStatus(err) != watchproto.CloseOverflow || !watchproto.NeedsResync(err) {
			t.Errorf("connection ended with %v, want close status %d", err, watchproto.CloseOverflow)
		}
	}
	if got := closeStatus(t, idle); got != watchproto.CloseOverflow {
		t.Errorf("idle connection closed with %d, want %d", got, watchproto.CloseOverflow)
	}
	waitFor(t, func() bool { c, n := ts.hub.Stats(); return c == 0 && n == 0 })
	if got := gauge(t, reg, "tahoe_watch_slow_consumers_dropped_total"); got != 0 {
		t.Errorf("a forced resync counted %v slow consumers", got)
	}
}

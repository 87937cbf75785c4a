package watchserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// clientFrom returns an HTTP client whose connections to ts come from
// source address ip (another loopback address stands for another machine).
func (ts *testServer) clientFrom(ip string) *http.Client {
	tr := ts.client.Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr}
}

// dialFrom dials ts's watch endpoint from source address ip.
func (ts *testServer) dialFrom(ctx context.Context, ip string) (*watchproto.Conn, error) {
	return ts.dialWith(ctx, ts.clientFrom(ip))
}

func (ts *testServer) dialWith(ctx context.Context, hc *http.Client) (*watchproto.Conn, error) {
	return watchproto.Dial(ctx, ts.url, watchproto.DialOptions{HTTPClient: hc, Swissnum: swissnum})
}

func (ts *testServer) mustDialFrom(t *testing.T, ip string) *watchproto.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ts.dialFrom(ctx, ip)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestGreedyClientLeavesPushForOthers is issue 13's attack with the
// default limits: 1,000 connections with 100 subscriptions each from
// 127.0.0.2. The greedy client gets at most its share; a client on
// 127.0.0.1 then subscribes and is pushed a change.
func TestGreedyClientLeavesPushForOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 TLS connections")
	}
	reg := metrics.NewServer()
	ts := startServer(t, Options{KeepAlive: -1, Metrics: reg.Server})
	const conns, per = 1000, 100
	subs := make([]watchproto.Sub, per)
	for i := range subs {
		ts.src.set(testSI(i), 0, 1)
		subs[i] = wsub(testSI(i), 1)
	}
	var accepted, refusedConns, acceptedSubs atomic.Int64
	var mu sync.Mutex
	var open []*watchproto.Conn
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			hc := ts.clientFrom("127.0.0.2") // refused dials may reuse a connection: each is a new request
			for range work {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := ts.dialWith(ctx, hc)
				if err != nil {
					cancel()
					refusedConns.Add(1)
					continue
				}
				accepted.Add(1)
				mu.Lock()
				open = append(open, c)
				mu.Unlock()
				res, err := c.Subscribe(ctx, subs)
				cancel()
				if err != nil {
					t.Errorf("greedy subscribe: %v", err)
					continue
				}
				for _, r := range res {
					if r.Refused == "" {
						acceptedSubs.Add(1)
					}
				}
			}
		})
	}
	for range conns {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	if n := accepted.Load(); n > DefaultMaxConnsPerClient || n == 0 {
		t.Errorf("greedy client holds %d connections, limit %d", n, DefaultMaxConnsPerClient)
	}
	if n := acceptedSubs.Load(); n > DefaultMaxSubsPerClient {
		t.Errorf("greedy client holds %d subscriptions, limit %d", n, DefaultMaxSubsPerClient)
	}
	honest := ts.mustDialFrom(t, "127.0.0.1")
	hsubs := make([]watchproto.Sub, per)
	for i := range hsubs {
		si := testSI(1000 + i)
		ts.src.set(si, 0, 1)
		hsubs[i] = wsub(si, 1)
	}
	for i, r := range subscribe(t, honest, hsubs...) {
		if r.Refused != "" {
			t.Fatalf("honest subscription %d refused %q next to a greedy client", i, r.Refused)
		}
	}
	ts.src.set(testSI(1000), 0, 2)
	ts.notify(testSI(1000), 0)
	if n := nextNotice(t, honest); n.Seqnum != 2 {
		t.Fatalf("honest client's notice %+v", n)
	}
	got := refusedCount(t, reg, "connection", "per-client")
	if got != float64(refusedConns.Load()) || got < conns-DefaultMaxConnsPerClient {
		t.Errorf("refused connections: metric %v, dials failed %d", got, refusedConns.Load())
	}
	t.Logf("greedy: %d connections accepted, %d refused, %d subscriptions", accepted.Load(), refusedConns.Load(), acceptedSubs.Load())
}

func refusedCount(t *testing.T, reg *metrics.Registry, what, limit string) float64 {
	t.Helper()
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tahoe_watch_watch_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["what"] == what && labels["limit"] == limit {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestPerClientLimits: connections and subscriptions are counted per
// source address over all its connections; another address is not
// affected, and a closed connection gives its room back.
func TestPerClientLimits(t *testing.T) {
	logs := &lockedLog{}
	ts := startServer(t, Options{KeepAlive: -1, MaxConnsPerClient: 2, MaxSubsPerClient: 3, Logger: logs.logger()})
	for i := range 10 {
		ts.src.set(testSI(i), 0, 1)
	}
	a1, a2 := ts.mustDialFrom(t, "127.0.0.2"), ts.mustDialFrom(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ts.dialFrom(ctx, "127.0.0.2"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("third connection from one address: %v, want a 429 refusal", err)
	}
	if !strings.Contains(logs.String(), "client=127.0.0.2") || !strings.Contains(logs.String(), "limit=per-client") {
		t.Errorf("refusal not logged naming the client: %s", logs.String())
	}
	subscribe(t, a1, wsub(testSI(0), 1), wsub(testSI(1), 1))
	res := subscribe(t, a2, wsub(testSI(2), 1), wsub(testSI(3), 1))
	if res[0].Refused != "" || res[1].Refused != watchproto.OverLimit {
		t.Fatalf("subscriptions over the per-client limit on a second connection: %+v", res)
	}
	b := ts.mustDialFrom(t, "127.0.0.1")
	for _, r := range subscribe(t, b, wsub(testSI(4), 1), wsub(testSI(5), 1), wsub(testSI(6), 1)) {
		if r.Refused != "" {
			t.Fatalf("other address refused %q", r.Refused)
		}
	}
	a1.Close()
	waitFor(t, func() bool { _, n := ts.hub.Stats(); return n == 4 })
	if res := subscribe(t, a2, wsub(testSI(3), 1)); res[0].Refused != "" {
		t.Fatalf("room freed by a closed connection not given back: %+v", res)
	}
	waitFor(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := ts.dialFrom(ctx, "127.0.0.2")
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestServerConnectionLimit: past MaxConns every address is refused with
// 503, whatever its own count.
func TestServerConnectionLimit(t *testing.T) {
	ts := startServer(t, Options{KeepAlive: -1, MaxConns: 2})
	ts.mustDialFrom(t, "127.0.0.2")
	ts.mustDialFrom(t, "127.0.0.3")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ts.dialFrom(ctx, "127.0.0.4"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("connection past the server-wide limit: %v, want a 503 refusal", err)
	}
}

// TestSubscribeRateSharedByClient: a client's connections share one
// bucket, so a second connection buys no second burst.
func TestSubscribeRateSharedByClient(t *testing.T) {
	ts := startServer(t, Options{KeepAlive: -1, SubscribeRate: 500, SubscribeBurst: 100})
	subs := make([]watchproto.Sub, 100)
	for i := range subs {
		ts.src.set(testSI(i), 0, 1)
		subs[i] = wsub(testSI(i), 1)
	}
	a, b := ts.mustDialFrom(t, "127.0.0.2"), ts.mustDialFrom(t, "127.0.0.2")
	subscribe(t, a, subs...)
	start := time.Now()
	subscribe(t, b, subs...)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("a second connection's 100 subscriptions after the burst took %v, want about 200 ms at 500/s", d)
	}
}

// TestDefaultBurstCoversAHundredThousand: with the default rate and
// burst a client subscribing 100,000 storage indexes in batches of 1,000,
// then the same again on a new connection (a refresh), never waits; the
// bucket still has a bound; and the tables hold such a client on one
// connection, next to 100 clients of 10,000.
func TestDefaultBurstCoversAHundredThousand(t *testing.T) {
	o := Options{}.withDefaults()
	l := newLimiter(o.SubscribeRate, o.SubscribeBurst)
	for i := range 200_000 / watchproto.DefaultMaxSubsPerMessage {
		if d := l.reserve(watchproto.DefaultMaxSubsPerMessage); d > 0 {
			t.Fatalf("batch %d of 1,000 delayed %v", i, d)
		}
	}
	if d := l.reserve(watchproto.DefaultMaxSubsPerMessage); d <= 0 {
		t.Fatal("the 201st batch was not delayed: the bucket has no bound")
	}
	if o.MaxSubsPerClient < 2*o.MaxSubsPerConn || o.MaxSubsPerConn < 100_000 || o.MaxSubsTotal < 100*10_000+o.MaxSubsPerClient {
		t.Fatalf("defaults %+v do not hold a client of 100,000 and 100 clients of 10,000 next to a greedy one", o)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.2:5555":              "127.0.0.2",
		"[::ffff:10.0.0.1]:1":         "10.0.0.1",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::1%eth0]:1": "2001:db8:1:2::/64",
		"garbage":                     "garbage",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// lockedLog collects a logger's text output safely across goroutines.
type lockedLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lockedLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// TestRefreshOnNewConnectionFits: with a per-client limit of two full
// connections (as the defaults have it, at 100,000 a connection; 10,000
// here, to stay fast) a client with a full connection can subscribe all
// of it on a new one before closing the old (as the watcher's refresh
// does), and the next 10,000 are refused.
func TestRefreshOnNewConnectionFits(t *testing.T) {
	ts := startServer(t, Options{KeepAlive: -1, MaxSubsPerConn: 10_000, MaxSubsPerClient: 20_000})
	subs := make([]watchproto.Sub, 10_000)
	for i := range subs {
		ts.src.set(testSI(i), 0, 1)
		subs[i] = wsub(testSI(i), 1)
	}
	refused := func(c *watchproto.Conn) int {
		n := 0
		for i := 0; i < len(subs); i += watchproto.DefaultMaxSubsPerMessage {
			for _, r := range subscribe(t, c, subs[i:i+watchproto.DefaultMaxSubsPerMessage]...) {
				if r.Refused != "" {
					n++
				}
			}
		}
		return n
	}
	old, fresh := ts.mustDialFrom(t, "127.0.0.2"), ts.mustDialFrom(t, "127.0.0.2")
	if n := refused(old); n != 0 {
		t.Fatalf("%d of 10,000 refused on the first connection", n)
	}
	if n := refused(fresh); n != 0 {
		t.Fatalf("%d of 10,000 refused on the refresh's new connection", n)
	}
	if n := refused(ts.mustDialFrom(t, "127.0.0.2")); n != 10_000 {
		t.Fatalf("a third full table: %d of 10,000 refused, want all", n)
	}
}

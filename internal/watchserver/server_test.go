package watchserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// memSource is an in-memory ShareSource.
type memSource struct {
	mu     sync.Mutex
	shares map[siKey]map[int]ShareState
	delay  time.Duration // added to every read, to widen races
}

func newMemSource() *memSource { return &memSource{shares: map[siKey]map[int]ShareState{}} }

func testSI(i int) []byte {
	s := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16), 's'})
	return s[:16]
}

func testFP(si []byte) []byte {
	s := sha256.Sum256(append([]byte("fp"), si...))
	return s[:]
}

func rootFor(seq uint64) [32]byte { return sha256.Sum256([]byte{byte(seq), byte(seq >> 8), 'r'}) }

func (m *memSource) set(si []byte, shnum int, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := siKey(si)
	if m.shares[k] == nil {
		m.shares[k] = map[int]ShareState{}
	}
	m.shares[k][shnum] = ShareState{Shnum: shnum, Seqnum: seq, Root: rootFor(seq), Fingerprint: [32]byte(testFP(si))}
}

func (m *memSource) del(si []byte, shnum int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.shares[siKey(si)], shnum)
}

func (m *memSource) MutableShares(ctx context.Context, si []byte) ([]ShareState, error) {
	if m.delay > 0 {
		t := time.NewTimer(m.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ShareState
	for _, st := range m.shares[siKey(si)] {
		out = append(out, st)
	}
	return out, nil
}

const swissnum = "ybfivklbe4gewouzxckbuc6fhlwwf777"

type testServer struct {
	hub    *Hub
	src    *memSource
	url    string
	client *http.Client
}

func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	src := newMemSource()
	hub := NewHub(src, opts)
	mux := http.NewServeMux()
	Mount(mux, NewHandler(hub, swissnum))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return &testServer{hub: hub, src: src, client: srv.Client(),
		url: "wss://" + srv.Listener.Addr().String() + watchproto.Path}
}

func (ts *testServer) dial(t testing.TB) *watchproto.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := watchproto.Dial(ctx, ts.url, watchproto.DialOptions{HTTPClient: ts.client, Swissnum: swissnum})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawDial opens a WebSocket without the protocol client, for misbehaving.
func (ts *testServer) rawDial(t testing.TB) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", watchproto.AuthHeader(swissnum))
	ws, _, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{
		HTTPClient: ts.client, HTTPHeader: h, Subprotocols: []string{watchproto.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func (ts *testServer) notify(si []byte, shnum int) { ts.hub.Notify(context.Background(), si, shnum) }

func subscribe(t testing.TB, c *watchproto.Conn, subs ...watchproto.Sub) []watchproto.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Subscribe(ctx, subs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func wsub(si []byte, seq uint64) watchproto.Sub {
	return watchproto.Sub{SI: si, Fingerprint: testFP(si), Seqnum: seq}
}

func nextNotice(t testing.TB, c *watchproto.Conn) watchproto.Notice {
	t.Helper()
	select {
	case n, ok := <-c.Notices():
		if !ok {
			t.Fatalf("connection ended: %v", c.Err())
		}
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no notice")
	}
	return watchproto.Notice{}
}

// noNotice checks that nothing is queued, using a subscribe round trip as
// a barrier: notices queued before it are sent before its reply.
func noNotice(t testing.TB, ts *testServer, c *watchproto.Conn) {
	t.Helper()
	barrier := testSI(999_999)
	ts.src.set(barrier, 0, 1)
	subscribe(t, c, wsub(barrier, 1))
	select {
	case n := <-c.Notices():
		t.Fatalf("unexpected notice %+v", n)
	default:
	}
}

func TestSubscribeAckCarriesStateThenNotices(t *testing.T) {
	ts := startServer(t, Options{})
	si := testSI(1)
	ts.src.set(si, 0, 4)
	ts.src.set(si, 3, 4)
	c := ts.dial(t)
	res := subscribe(t, c, wsub(si, 3))
	r := res[0]
	if r.Refused != "" || !r.Newer || len(r.Shares) != 2 || r.Shares[0].Seqnum != 4 {
		t.Fatalf("result %+v", r)
	}
	root := rootFor(4)
	if !bytes.Equal(r.Shares[0].Root, root[:]) {
		t.Error("wrong root in ack")
	}
	ts.src.set(si, 3, 5)
	ts.notify(si, 3)
	n := nextNotice(t, c)
	root = rootFor(5)
	if !bytes.Equal(n.SI, si) || n.Shnum != 3 || n.Seqnum != 5 || !bytes.Equal(n.Root, root[:]) || n.Deleted {
		t.Fatalf("notice %+v", n)
	}
	ts.notify(si, 3) // nothing changed: no notice
	noNotice(t, ts, c)
	ts.src.del(si, 0)
	ts.notify(si, 0)
	if n := nextNotice(t, c); n.Shnum != 0 || !n.Deleted {
		t.Fatalf("deletion notice %+v", n)
	}
	if res := subscribe(t, c, wsub(si, 5)); res[0].Newer {
		t.Error("newer although the client knows seqnum 5")
	}
}

func TestRefusals(t *testing.T) {
	ts := startServer(t, Options{MaxSubsPerConn: 2})
	held, other := testSI(1), testSI(2)
	ts.src.set(held, 1, 1)
	ts.src.set(testSI(3), 1, 1)
	ts.src.set(testSI(4), 1, 1)
	c := ts.dial(t)
	res := subscribe(t, c,
		wsub(other, 0), // nothing held
		watchproto.Sub{SI: held, Fingerprint: testFP(other)},
		watchproto.Sub{SI: held[:5], Fingerprint: testFP(held)},
		watchproto.Sub{SI: held, Fingerprint: nil},
		wsub(held, 0), wsub(testSI(3), 0), wsub(testSI(4), 0), // the third is over the limit
	)
	want := []watchproto.Reason{watchproto.NoShare, watchproto.FingerprintMismatch,
		watchproto.Malformed, watchproto.Malformed, "", "", watchproto.OverLimit}
	for i, r := range res {
		if r.Refused != want[i] {
			t.Errorf("sub %d: refused %q, want %q", i, r.Refused, want[i])
		}
	}
	if _, subs := ts.hub.Stats(); subs != 2 {
		t.Errorf("%d subscriptions registered, want 2", subs)
	}
}

func TestServerWideLimit(t *testing.T) {
	ts := startServer(t, Options{MaxSubsTotal: 3})
	for i := range 4 {
		ts.src.set(testSI(i), 0, 1)
	}
	a, b := ts.dial(t), ts.dial(t)
	subscribe(t, a, wsub(testSI(0), 0), wsub(testSI(1), 0))
	res := subscribe(t, b, wsub(testSI(2), 0), wsub(testSI(3), 0))
	if res[0].Refused != "" || res[1].Refused != watchproto.OverLimit {
		t.Fatalf("results %+v", res)
	}
	a.Close()
	waitFor(t, func() bool { _, n := ts.hub.Stats(); return n == 1 })
	if res := subscribe(t, b, wsub(testSI(3), 0)); res[0].Refused != "" {
		t.Fatalf("room freed by a closed connection not reused: %+v", res)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBatchSubscribeUnsubscribe(t *testing.T) {
	ts := startServer(t, Options{})
	const n = 1000
	subs := make([]watchproto.Sub, n)
	for i := range n {
		ts.src.set(testSI(i), i%10, uint64(i))
		subs[i] = wsub(testSI(i), 0)
	}
	c := ts.dial(t)
	res := subscribe(t, c, subs...)
	for i, r := range res {
		if r.Refused != "" || !bytes.Equal(r.SI, testSI(i)) || r.Shares[0].Seqnum != uint64(i) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	ts.src.set(testSI(500), 0, 9999)
	ts.notify(testSI(500), 0)
	if n := nextNotice(t, c); !bytes.Equal(n.SI, testSI(500)) || n.Seqnum != 9999 {
		t.Fatalf("notice %+v", n)
	}
	sis := make([][]byte, n)
	for i := range sis {
		sis[i] = testSI(i)
	}
	if err := c.Unsubscribe(context.Background(), sis); err != nil {
		t.Fatal(err)
	}
	if _, subs := ts.hub.Stats(); subs != 0 {
		t.Fatalf("%d subscriptions left", subs)
	}
	ts.src.set(testSI(7), 7, 10_000)
	ts.notify(testSI(7), 7)
	noNotice(t, ts, c)
}

func TestReplacement(t *testing.T) {
	ts := startServer(t, Options{})
	si := testSI(1)
	ts.src.set(si, 0, 1)
	c := ts.dial(t)
	subscribe(t, c, wsub(si, 0))
	ts.src.set(si, 0, 2)
	res := subscribe(t, c, wsub(si, 1)) // replaces: the baseline is now seqnum 2
	if res[0].Shares[0].Seqnum != 2 {
		t.Fatalf("result %+v", res[0])
	}
	if _, subs := ts.hub.Stats(); subs != 1 {
		t.Fatalf("%d subscriptions, want 1", subs)
	}
	ts.notify(si, 0) // the write of seqnum 2, already reported in the reply
	noNotice(t, ts, c)
	ts.src.set(si, 0, 3)
	ts.notify(si, 0)
	if n := nextNotice(t, c); n.Seqnum != 3 {
		t.Fatalf("notice %+v", n)
	}
}

func TestFanOutAcrossConnections(t *testing.T) {
	ts := startServer(t, Options{})
	si := testSI(1)
	ts.src.set(si, 0, 1)
	conns := make([]*watchproto.Conn, 5)
	for i := range conns {
		conns[i] = ts.dial(t)
		subscribe(t, conns[i], wsub(si, 1))
	}
	ts.src.set(si, 0, 2)
	ts.notify(si, 0)
	for _, c := range conns {
		if n := nextNotice(t, c); n.Seqnum != 2 {
			t.Fatalf("notice %+v", n)
		}
	}
}

// TestSubscribeNotifyRace writes continuously while subscribing: the last
// state a client learns (from the reply or notices) must be the final one.
func TestSubscribeNotifyRace(t *testing.T) {
	ts := startServer(t, Options{})
	ts.src.delay = 200 * time.Microsecond
	const nsi = 20
	for i := range nsi {
		ts.src.set(testSI(i), 0, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	final := make([]uint64, nsi)
	wg.Go(func() {
		for seq := uint64(2); ctx.Err() == nil; seq++ {
			for i := range nsi {
				ts.src.set(testSI(i), 0, seq)
				ts.notify(testSI(i), 0)
				final[i] = seq
			}
		}
	})
	c := ts.dial(t)
	subs := make([]watchproto.Sub, nsi)
	for i := range subs {
		subs[i] = wsub(testSI(i), 0)
	}
	known := make([]uint64, nsi)
	for i, r := range subscribe(t, c, subs...) {
		known[i] = r.Shares[0].Seqnum
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	index := map[string]int{}
	for i := range nsi {
		index[string(testSI(i))] = i
	}
	noNoticeUntilBarrier(t, ts, c, func(n watchproto.Notice) {
		i := index[string(n.SI)]
		if n.Seqnum <= known[i] {
			t.Errorf("si %d: notice of seqnum %d after knowing %d (out of order)", i, n.Seqnum, known[i])
		}
		known[i] = n.Seqnum
	})
	for i := range nsi {
		if known[i] != final[i] {
			t.Errorf("si %d: client knows seqnum %d, final is %d", i, known[i], final[i])
		}
	}
}

// noNoticeUntilBarrier hands every notice queued before a barrier to f.
// The barrier is two subscribe round trips: a notice queued just before
// the first batch may go out right after its reply (replies go first in
// one write round), but always before the second reply.
func noNoticeUntilBarrier(t *testing.T, ts *testServer, c *watchproto.Conn, f func(watchproto.Notice)) {
	barrier := testSI(999_998)
	ts.src.set(barrier, 0, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		subscribe(t, c, wsub(barrier, 1))
		subscribe(t, c, wsub(barrier, 1))
	}()
	for {
		select {
		case n := <-c.Notices():
			f(n)
		case <-done:
			for {
				select {
				case n := <-c.Notices():
					f(n)
				default:
					return
				}
			}
		}
	}
}

func TestUnauthorizedBeforeUpgrade(t *testing.T) {
	ts := startServer(t, Options{})
	for _, tc := range []struct {
		auth, proto string
		want        int
	}{
		{"", watchproto.Subprotocol, http.StatusUnauthorized},
		{watchproto.AuthHeader("wrong"), watchproto.Subprotocol, http.StatusUnauthorized},
		{watchproto.AuthHeader(swissnum), "", http.StatusBadRequest},
		{watchproto.AuthHeader(swissnum), "other.v9", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest("GET", strings.Replace(ts.url, "wss:", "https:", 1), nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if tc.proto != "" {
			req.Header.Set("Sec-WebSocket-Protocol", tc.proto)
		}
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("auth %q proto %q: status %d, want %d", tc.auth, tc.proto, resp.StatusCode, tc.want)
		}
	}
	_, err := watchproto.Dial(context.Background(), ts.url, watchproto.DialOptions{HTTPClient: ts.client, Swissnum: "nope"})
	if err == nil {
		t.Fatal("dial with a wrong swissnum succeeded")
	}
}

func closeStatus(t testing.TB, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func TestBadMessagesCloseOnlyThatConnection(t *testing.T) {
	ts := startServer(t, Options{MaxMessageSize: 4096})
	si := testSI(1)
	ts.src.set(si, 0, 1)
	good := ts.dial(t)
	subscribe(t, good, wsub(si, 1))
	cases := []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
		want websocket.StatusCode
	}{
		{"oversized", websocket.MessageBinary, make([]byte, 5000), websocket.StatusMessageTooBig},
		{"garbage", websocket.MessageBinary, []byte{0xff, 0x00, 0x13}, watchproto.CloseProtocolError},
		{"text", websocket.MessageText, []byte(`{"type":"subscribe"}`), watchproto.CloseProtocolError},
		{"reply type", websocket.MessageBinary, mustEncode(t, &watchproto.Unsubscribed{ID: 1}), watchproto.CloseProtocolError},
	}
	for _, tc := range cases {
		ws := ts.rawDial(t)
		if err := ws.Write(context.Background(), tc.typ, tc.msg); err != nil {
			t.Fatal(err)
		}
		if got := closeStatus(t, ws); got != tc.want {
			t.Errorf("%s: close status %d, want %d", tc.name, got, tc.want)
		}
	}
	ts.src.set(si, 0, 2)
	ts.notify(si, 0)
	if n := nextNotice(t, good); n.Seqnum != 2 {
		t.Fatalf("the well-behaved connection was harmed: %+v", n)
	}
	waitFor(t, func() bool { c, _ := ts.hub.Stats(); return c == 1 })
}

func mustEncode(t testing.TB, m watchproto.Message) []byte {
	b, err := watchproto.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeepAliveDropsSilentClient(t *testing.T) {
	ts := startServer(t, Options{KeepAlive: 100 * time.Millisecond})
	si := testSI(1)
	ts.src.set(si, 0, 1)
	ws := ts.rawDial(t) // never reads, so never answers pings
	ws.Write(context.Background(), websocket.MessageBinary,
		mustEncode(t, &watchproto.Subscribe{ID: 1, Subs: []watchproto.Sub{wsub(si, 1)}}))
	waitFor(t, func() bool { _, n := ts.hub.Stats(); return n == 1 })
	start := time.Now()
	waitFor(t, func() bool { c, _ := ts.hub.Stats(); return c == 0 })
	t.Logf("silent client dropped after %v", time.Since(start))
}

func TestClientKeepAliveDetectsSilentServer(t *testing.T) {
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{watchproto.Subprotocol}})
		if err != nil {
			return
		}
		accepted <- ws // and never read: pings go unanswered
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := watchproto.Dial(context.Background(), "wss://"+srv.Listener.Addr().String()+watchproto.Path,
		watchproto.DialOptions{HTTPClient: srv.Client(), KeepAlive: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws := <-accepted
	defer ws.CloseNow()
	select {
	case <-c.Done():
		if !watchproto.NeedsResync(c.Err()) {
			t.Errorf("err %v does not ask for a resync", c.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client did not notice the silent server")
	}
}

func TestSlowConsumerOverflow(t *testing.T) {
	reg := metrics.NewServer()
	ts := startServer(t, Options{MaxPending: 8, KeepAlive: -1, Metrics: reg.Server})
	const nsi = 100
	ws := ts.rawDial(t)
	subs := make([]watchproto.Sub, nsi)
	for i := range subs {
		ts.src.set(testSI(i), 0, 1)
		subs[i] = wsub(testSI(i), 1)
	}
	ws.Write(context.Background(), websocket.MessageBinary, mustEncode(t, &watchproto.Subscribe{ID: 1, Subs: subs}))
	waitFor(t, func() bool { _, n := ts.hub.Stats(); return n == nsi })
	// The client reads nothing; write until its socket buffers are full
	// and its pending notices overflow.
	overflowed := func() bool {
		select {
		case <-sessionOf(ts.hub).lost:
			return true
		default:
			return false
		}
	}
	for seq := uint64(2); !overflowed(); seq++ {
		if seq > 1_000_000 {
			t.Fatal("no overflow")
		}
		for i := range nsi {
			ts.src.set(testSI(i), 0, seq)
			ts.notify(testSI(i), 0)
		}
	}
	if got := closeStatus(t, ws); got != watchproto.CloseOverflow {
		t.Fatalf("close status %d, want %d", got, watchproto.CloseOverflow)
	}
	waitFor(t, func() bool { c, _ := ts.hub.Stats(); return c == 0 })
	if got := gauge(t, reg, "tahoe_watch_slow_consumers_dropped_total"); got != 1 {
		t.Errorf("slow consumers dropped = %v, want 1", got)
	}
}

// sessionOf returns the hub's only session.
func sessionOf(h *Hub) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.bySI {
		for s := range subs {
			return s
		}
	}
	panic(errors.New("no session"))
}

// TestCoalescingKeepsUpWithStorm: a reading client whose subscriptions fit
// in the pending-notice bound never overflows, however fast writes come,
// because undelivered notices of a share are coalesced; it ends up knowing
// every share's final state.
func TestCoalescingKeepsUpWithStorm(t *testing.T) {
	const nsi, rounds = 50, 200
	ts := startServer(t, Options{MaxPending: nsi})
	c := ts.dial(t)
	subs := make([]watchproto.Sub, nsi)
	index := map[string]int{}
	for i := range subs {
		ts.src.set(testSI(i), 0, 1)
		subs[i] = wsub(testSI(i), 1)
		index[string(testSI(i))] = i
	}
	subscribe(t, c, subs...)
	for seq := uint64(2); seq < rounds+2; seq++ {
		for i := range nsi {
			ts.src.set(testSI(i), 0, seq)
			ts.notify(testSI(i), 0)
		}
	}
	known := make([]uint64, nsi)
	count := 0
	noNoticeUntilBarrier(t, ts, c, func(n watchproto.Notice) {
		count++
		known[index[string(n.SI)]] = n.Seqnum
	})
	for i, k := range known {
		if k != rounds+1 {
			t.Errorf("si %d: knows %d, want %d", i, k, rounds+1)
		}
	}
	t.Logf("%d writes became %d notices", nsi*rounds, count)
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

// TestSubscribeRateDelays: subscriptions beyond the burst are delayed to
// the configured rate, not refused.
func TestSubscribeRateDelays(t *testing.T) {
	ts := startServer(t, Options{SubscribeRate: 1000, SubscribeBurst: 100})
	subs := make([]watchproto.Sub, 100)
	for i := range subs {
		ts.src.set(testSI(i), 0, 1)
		subs[i] = wsub(testSI(i), 1)
	}
	c := ts.dial(t)
	start := time.Now()
	for range 4 {
		for _, r := range subscribe(t, c, subs...) {
			if r.Refused != "" {
				t.Fatalf("refused %q", r.Refused)
			}
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("400 subscriptions at 1000/s after a burst of 100 took only %v", d)
	}
}

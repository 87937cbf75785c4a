package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scrape serves r on a loopback port, fetches /metrics once and stops the
// server, checking that Serve returns when its context ends.
func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeListener: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServeListener did not return after cancel")
		}
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	return string(body)
}

func TestScrape(t *testing.T) {
	r := New()
	r.Server.Request("read-share", 200)
	r.Server.Request("read-share", 200)
	r.Server.Request("write", 409)
	r.Server.ConnOpened()
	r.Server.ConnOpened()
	r.Server.ConnClosed()
	r.Server.Subscribed(3)
	r.Server.NoticeSent(time.Now().Add(-20 * time.Millisecond))
	r.Server.SlowConsumerDropped()
	r.Client.ConnOpened(false)
	r.Client.ConnOpened(true)
	r.Client.NoticeReceived()
	r.Client.Polled("fallback")
	r.Client.Changed(time.Now())
	r.Client.Changed(time.Time{})

	body := scrape(t, r)
	for _, want := range []string{
		`tahoe_watch_http_requests_total{code="200",endpoint="read-share"} 2`,
		`tahoe_watch_http_requests_total{code="409",endpoint="write"} 1`,
		`tahoe_watch_watch_connections 1`,
		`tahoe_watch_watch_subscriptions 3`,
		`tahoe_watch_notices_sent_total 1`,
		`tahoe_watch_notice_latency_seconds_count 1`,
		`tahoe_watch_notice_latency_seconds_bucket{le="0.01"} 0`,
		`tahoe_watch_notice_latency_seconds_bucket{le="0.025"} 1`,
		`tahoe_watch_slow_consumers_dropped_total 1`,
		`tahoe_watch_client_watch_connections 2`,
		`tahoe_watch_client_reconnects_total 1`,
		`tahoe_watch_client_notices_received_total 1`,
		`tahoe_watch_client_polls_total{reason="fallback"} 1`,
		`tahoe_watch_client_changes_total 2`,
		`tahoe_watch_client_change_latency_seconds_count 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func TestNilSafe(t *testing.T) {
	var s *Server
	var c *Client
	s.Request("x", 200)
	s.ConnOpened()
	s.ConnClosed()
	s.Subscribed(1)
	s.NoticeSent(time.Now())
	s.SlowConsumerDropped()
	c.ConnOpened(true)
	c.ConnClosed()
	c.NoticeReceived()
	c.Polled("resync")
	c.Changed(time.Now())
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	if got := s.Instrument("x", h); got == nil {
		t.Fatal("nil Instrument returned nil handler")
	}
}

func TestInstrument(t *testing.T) {
	r := New()
	mux := http.NewServeMux()
	mux.Handle("/gone", r.Server.Instrument("gone", http.NotFoundHandler()))
	mux.Handle("/ok", r.Server.Instrument("ok", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "fine")
	})))
	mux.Handle("/ws", r.Server.Instrument("watch", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through Instrument: %v", err)
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n")
		conn.Close()
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/gone", "/ok", "/ok", "/ws"} {
		resp, err := http.Get(srv.URL + p)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	body := scrape(t, r)
	for _, want := range []string{
		`tahoe_watch_http_requests_total{code="404",endpoint="gone"} 1`,
		`tahoe_watch_http_requests_total{code="200",endpoint="ok"} 2`,
		`tahoe_watch_http_requests_total{code="101",endpoint="watch"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestServeOff(t *testing.T) {
	if err := New().Serve(context.Background(), ""); err != nil {
		t.Fatalf("Serve with no address: %v", err)
	}
	if err := New().Serve(context.Background(), "127.0.0.1:notaport"); err == nil {
		t.Fatal("Serve on a bad address succeeded")
	}
}

// TestInstrumentRoutes counts responses under the ServeMux pattern that
// served them, also behind middleware, and unrouted ones apart.
func TestInstrumentRoutes(t *testing.T) {
	r := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x") })
	gate := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("X-Key") != "k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, req)
	})
	srv := httptest.NewServer(r.Server.InstrumentRoutes(gate))
	defer srv.Close()
	get := func(path, key string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Key", key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/item/1", "k")
	get("/item/2", "k")
	get("/item/3", "wrong")
	get("/nothing", "k")
	body := scrape(t, r)
	for _, want := range []string{
		`tahoe_watch_http_requests_total{code="200",endpoint="GET /item/{id}"} 2`,
		`tahoe_watch_http_requests_total{code="401",endpoint="unmatched"} 1`,
		`tahoe_watch_http_requests_total{code="404",endpoint="unmatched"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestEachSideExportsOnlyItsOwn: a server process exports no client
// series and a client process no server series; both export their own
// side at zero from the start, and New exports only what was recorded.
func TestEachSideExportsOnlyItsOwn(t *testing.T) {
	srv := scrape(t, NewServer())
	if !strings.Contains(srv, "tahoe_watch_watch_connections 0") || strings.Contains(srv, "tahoe_watch_client_") {
		t.Errorf("server registry:\n%s", srv)
	}
	cli := scrape(t, NewClient())
	if !strings.Contains(cli, "tahoe_watch_client_watch_connections 0") || strings.Contains(cli, "tahoe_watch_watch_") ||
		strings.Contains(cli, "tahoe_watch_notice") {
		t.Errorf("client registry:\n%s", cli)
	}
	r := New()
	r.Client.ConnOpened(false)
	both := scrape(t, r)
	if !strings.Contains(both, "tahoe_watch_client_watch_connections 1") || strings.Contains(both, "tahoe_watch_watch_connections") {
		t.Errorf("New with only client metrics recorded:\n%s", both)
	}
}

// TestHealthAndReadiness: /healthz answers as soon as the listener is
// up; /readyz is 503 until SetReady, then follows the check.
func TestHealthAndReadiness(t *testing.T) {
	r := NewServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.ServeListener(ctx, ln)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("/readyz before SetReady: %d %q", code, body)
	}
	var down atomic.Bool
	r.SetReady(func() error {
		if down.Load() {
			return errors.New("storage directory unreadable")
		}
		return nil
	})
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	down.Store(true)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "storage directory unreadable") {
		t.Errorf("/readyz when not ready: %d %q", code, body)
	}
}

// Package metrics defines tahoe-watch's Prometheus metrics and serves them
// on /metrics for --metrics-listen.
//
// A command builds one Registry for its side (NewServer for serve and the
// notifier, NewClient for the watcher and sync), hands its metrics to the
// code that records them, and, when --metrics-listen is given, runs Serve.
// A registry exports only its own side's series. Every recording method
// is safe on a nil receiver, so code can record unconditionally and a
// command that has metrics off passes nil.
//
// Next to /metrics the same listener answers /healthz (the process is
// up) and /readyz (it serves: see Registry.SetReady).
package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Namespace prefixes every metric name.
const Namespace = "tahoe_watch"

// Registry is one process's metrics.
type Registry struct {
	reg    *prometheus.Registry
	Server *Server // storage server and notifier side; nil in a NewClient registry
	Client *Client // watcher side; nil in a NewServer registry

	mu    sync.Mutex
	ready func() error
}

// NewServer returns the registry of a server process (serve, notifier):
// the server metrics, exported from the start, and the standard Go
// runtime and process collectors. Its Client is nil.
func NewServer() *Registry {
	r := newRegistry()
	r.Server = newServer(r.reg)
	r.Server.use()
	return r
}

// NewClient returns the registry of a client process (the watcher,
// sync): the client metrics, exported from the start, and the Go runtime
// and process collectors. Its Server is nil.
func NewClient() *Registry {
	r := newRegistry()
	r.Client = newClient(r.reg)
	r.Client.use()
	return r
}

// New returns a registry holding both sides, each exported only once
// something records on it, so a process exports only the series it
// uses. Prefer NewServer or NewClient, which export their side at zero
// from the start.
func New() *Registry {
	r := newRegistry()
	r.Server, r.Client = newServer(r.reg), newClient(r.reg)
	return r
}

func newRegistry() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// SetReady sets the check /readyz runs: nil from check means ready
// (200), an error means not ready (503, with the error's text, which
// must hold no secret). Until SetReady is called /readyz answers 503.
func (r *Registry) SetReady(check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready = check
}

func (r *Registry) readiness() error {
	r.mu.Lock()
	check := r.ready
	r.mu.Unlock()
	if check == nil {
		return errors.New("starting")
	}
	return check()
}

// lazy registers a group of collectors on first use.
type lazy struct {
	once sync.Once
	reg  prometheus.Registerer
	cs   []prometheus.Collector
}

func (l *lazy) use() {
	l.once.Do(func() { l.reg.MustRegister(l.cs...) })
}

// Gatherer is the underlying registry, for tests and extra collectors.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Serve listens on addr and serves /metrics until ctx is done. An empty
// addr means metrics are off: Serve returns nil at once.
func (r *Registry) Serve(ctx context.Context, addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errkind.E("metrics.Serve", errkind.Usage, "--metrics-listen %s: %w", addr, err)
	}
	return r.ServeListener(ctx, ln)
}

// ServeListener serves /metrics on ln until ctx is done, then closes it.
func (r *Registry) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := r.readiness(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return errkind.E("metrics.Serve", errkind.Other, err)
}

// LatencyBuckets are the histogram buckets, in seconds, for notice
// latency: from a few milliseconds on loopback to a minute.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Server are the storage server's and notifier's metrics.
type Server struct {
	lazy
	requests    *prometheus.CounterVec
	connections prometheus.Gauge
	subs        prometheus.Gauge
	notices     prometheus.Counter
	latency     prometheus.Histogram
	dropped     prometheus.Counter
	refused     *prometheus.CounterVec
}

func newServer(reg prometheus.Registerer) *Server {
	m := &Server{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "watch_connections",
			Help: "Open watch WebSocket connections.",
		}),
		subs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "watch_subscriptions",
			Help: "Storage indexes subscribed to, summed over connections.",
		}),
		notices: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "notices_sent_total",
			Help: "Change notices sent to watch clients.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "notice_latency_seconds",
			Help:    "Time from a share write being committed (or settling, for the notifier) to its notice being sent.",
			Buckets: LatencyBuckets,
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "slow_consumers_dropped_total",
			Help: "Watch connections closed because the client did not keep up with its notices.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "watch_refused_total",
			Help: "Watch connections and subscriptions refused by a limit, by what was refused and which limit.",
		}, []string{"what", "limit"}),
	}
	m.lazy = lazy{reg: reg, cs: []prometheus.Collector{m.requests, m.connections, m.subs, m.notices, m.latency, m.dropped, m.refused}}
	return m
}

// Request counts one served request. endpoint must come from a fixed set
// (a route name, never a path with storage indexes in it).
func (m *Server) Request(endpoint string, code int) {
	if m != nil {
		m.use()
		m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	}
}

// ConnOpened and ConnClosed track open watch connections.
func (m *Server) ConnOpened() {
	if m != nil {
		m.use()
		m.connections.Inc()
	}
}

// ConnClosed records a watch connection closing.
func (m *Server) ConnClosed() {
	if m != nil {
		m.use()
		m.connections.Dec()
	}
}

// Subscribed adds delta (negative to unsubscribe) to the subscription count.
func (m *Server) Subscribed(delta int) {
	if m != nil {
		m.use()
		m.subs.Add(float64(delta))
	}
}

// NoticeSent counts a notice sent, since is when the change happened.
func (m *Server) NoticeSent(since time.Time) {
	if m != nil {
		m.use()
		m.notices.Inc()
		m.latency.Observe(time.Since(since).Seconds())
	}
}

// SlowConsumerDropped counts a connection dropped for falling behind.
func (m *Server) SlowConsumerDropped() {
	if m != nil {
		m.use()
		m.dropped.Inc()
	}
}

// Refused counts a watch connection or subscription (what) refused by
// limit ("per-client", "total", "per-connection").
func (m *Server) Refused(what, limit string) {
	if m != nil {
		m.use()
		m.refused.WithLabelValues(what, limit).Inc()
	}
}

// Instrument wraps h so every response is counted under endpoint with its
// status code. The wrapper keeps http.Hijacker, http.Flusher and
// http.ResponseController working, so WebSocket upgrades pass through.
func (m *Server) Instrument(endpoint string, h http.Handler) http.Handler {
	return m.instrument(func(*http.Request) string { return endpoint }, h)
}

// UnmatchedEndpoint is InstrumentRoutes' endpoint label for requests no
// route took (unknown paths, or refused before routing).
const UnmatchedEndpoint = "unmatched"

// InstrumentRoutes wraps h, which routes with an http.ServeMux (possibly
// behind middleware that passes the request on unchanged), and counts
// every response under the pattern of the route that served it, e.g.
// "GET /storage/v1/mutable/{si}/{shnum}", or UnmatchedEndpoint.
func (m *Server) InstrumentRoutes(h http.Handler) http.Handler {
	return m.instrument(func(r *http.Request) string {
		if r.Pattern == "" {
			return UnmatchedEndpoint
		}
		return r.Pattern
	}, h)
}

// instrument counts each response under the endpoint that label names
// once the request has been served.
func (m *Server) instrument(label func(*http.Request) string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		code := sw.code
		if sw.hijacked {
			code = http.StatusSwitchingProtocols
		} else if code == 0 {
			code = http.StatusOK
		}
		m.Request(label(r), code)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Client are the watcher's metrics: the client side of the same traffic.
type Client struct {
	lazy
	connections prometheus.Gauge
	reconnects  prometheus.Counter
	received    prometheus.Counter
	changes     prometheus.Counter
	polls       *prometheus.CounterVec
	latency     prometheus.Histogram
}

func newClient(reg prometheus.Registerer) *Client {
	m := &Client{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "client", Name: "watch_connections",
			Help: "Open watch connections to storage servers.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "client", Name: "reconnects_total",
			Help: "Watch connections re-established after a failure.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "client", Name: "notices_received_total",
			Help: "Change notices received from storage servers.",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "client", Name: "changes_total",
			Help: "Verified change events emitted.",
		}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "client", Name: "polls_total",
			Help: "Header polls of servers, by reason (fallback for servers without a watch endpoint, resync after a reconnect).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "client", Name: "change_latency_seconds",
			Help:    "Time from a notice arriving to its verified change event.",
			Buckets: LatencyBuckets,
		}),
	}
	m.lazy = lazy{reg: reg, cs: []prometheus.Collector{m.connections, m.reconnects, m.received, m.changes, m.polls, m.latency}}
	return m
}

// ConnOpened records a watch connection to a server being established;
// reconnect says whether it replaces one that failed.
func (m *Client) ConnOpened(reconnect bool) {
	if m != nil {
		m.use()
		m.connections.Inc()
		if reconnect {
			m.reconnects.Inc()
		}
	}
}

// ConnClosed records a watch connection to a server closing.
func (m *Client) ConnClosed() {
	if m != nil {
		m.use()
		m.connections.Dec()
	}
}

// NoticeReceived counts a notice from a server.
func (m *Client) NoticeReceived() {
	if m != nil {
		m.use()
		m.received.Inc()
	}
}

// Polled counts a header poll; reason is "fallback" or "resync".
func (m *Client) Polled(reason string) {
	if m != nil {
		m.use()
		m.polls.WithLabelValues(reason).Inc()
	}
}

// Changed counts a verified change event; since is when the notice that
// led to it arrived (zero if it came from a poll: no latency observed).
func (m *Client) Changed(since time.Time) {
	if m != nil {
		m.use()
		m.changes.Inc()
		if !since.IsZero() {
			m.latency.Observe(time.Since(since).Seconds())
		}
	}
}

package storage

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/identity"
	"golang.org/x/sync/semaphore"
)

// ApplicationVersion is the application-version the version document
// reports unless Config says otherwise.
const ApplicationVersion = "tahoe-watch/1 (Tahoe-LAFS 1.20 compatible)"

// Config configures a Server.
type Config struct {
	// BaseDir is the node directory: identity in BASE/private, shares in
	// BASE/storage. A real Tahoe node directory works as it is; missing
	// pieces of a fresh one are created.
	BaseDir string
	// StorageDir holds the shares (StorageDir/shares/...); "" means
	// BaseDir/storage, Tahoe's default ([storage] storage_dir).
	StorageDir string
	// ReservedSpace and ReadOnly are Tahoe's [storage] reserved_space
	// and readonly; see BackendConfig.
	ReservedSpace uint64
	ReadOnly      bool
	// Nickname is only logged.
	Nickname string
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// ApplicationVersion overrides the version document's application-version.
	// (Advertisements go there, not in extra keys: Tahoe 1.20's client checks
	// the version document against a closed schema and rejects extra keys.)
	ApplicationVersion string
	// MaxBodyBytes bounds the read-test-write bodies held in memory at
	// once, across all clients (one may be ~70 MB, Tahoe's largest
	// mutable share); a request waits for room. 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Wrap, if set, wraps the server's whole handler (authentication
	// included), e.g. to count requests by route. It must pass the
	// request on unchanged so the route pattern the mux sets is visible.
	Wrap func(http.Handler) http.Handler
}

// Server is a Great Black Swamp storage server. Everything it serves,
// including handlers mounted with Handle, requires the swissnum in the
// Authorization header.
type Server struct {
	cfg     Config
	id      *identity.Identity
	backend *Backend
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler

	bodies *semaphore.Weighted // bytes of read-test-write bodies in memory

	mu   sync.Mutex
	addr net.Addr
}

// DefaultMaxBodyBytes is Config.MaxBodyBytes's default: room for about a
// dozen of the largest read-test-writes at once.
const DefaultMaxBodyBytes = 1 << 30

// NewServer loads (or creates) the node identity and opens the storage
// directory of cfg.BaseDir.
func NewServer(cfg Config) (*Server, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	id, err := identity.LoadOrCreate(cfg.BaseDir)
	if err != nil {
		return nil, err
	}
	dir := cfg.StorageDir
	if dir == "" {
		dir = filepath.Join(cfg.BaseDir, "storage")
	}
	b, err := OpenBackend(BackendConfig{Dir: dir, NodeID: id.NodeID, Logger: logger,
		ReservedSpace: cfg.ReservedSpace, ReadOnly: cfg.ReadOnly})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, id: id, backend: b, log: logger, mux: http.NewServeMux(),
		bodies: semaphore.NewWeighted(max(cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes), maxRTWBody))}
	s.routes()
	s.handler = s.authenticate(s.mux)
	if cfg.Wrap != nil {
		s.handler = cfg.Wrap(s.handler)
	}
	return s, nil
}

// Backend returns the server's storage backend (for observers).
func (s *Server) Backend() *Backend { return s.backend }

// Identity returns the server's identity.
func (s *Server) Identity() *identity.Identity { return s.id }

// Handle mounts an extra handler on the server, behind the same
// swissnum check. Patterns are http.ServeMux patterns, e.g.
// "GET /storage/v1/watch". Call it before Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the server's HTTP handler (authentication included),
// for serving it some other way.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig returns the server-side TLS configuration.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.id.Certificate}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"}}
}

// NURLFor builds the server's NURL for a "host:port" location hint.
func (s *Server) NURLFor(hostport string) *nurl.NURL { return s.id.NURL([]string{hostport}) }

// NURL returns the server's NURL for the address Serve listens on, or
// nil before Serve has been called.
func (s *Server) NURL() *nurl.NURL {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return nil
	}
	return s.NURLFor(s.addr.String())
}

// Serve serves TLS on ln until ctx is cancelled, then shuts down
// gracefully (waiting up to 5 seconds for requests in flight) and
// returns nil; any other failure is returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	hs := &http.Server{Handler: s.handler, TLSConfig: s.TLSConfig(), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }()
	select {
	case err := <-done:
		s.backend.Close()
		return errkind.E("storage.Serve", errkind.Other, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-done
	s.backend.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return errkind.E("storage.Serve", errkind.Other, err)
	}
	return nil
}

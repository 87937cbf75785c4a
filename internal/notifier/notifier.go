// Package notifier is the watch sidecar for an unmodified Tahoe-LAFS
// storage node: it serves the watch endpoint with the node's own TLS
// identity and swissnum, and learns of share changes by watching, with
// inotify (fsnotify), only the share directories somebody subscribes to.
package notifier

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/identity"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// DefaultSettle is how long a share must be quiet after a write before
// it is read: Tahoe writes one update as several partial writes.
const DefaultSettle = 20 * time.Millisecond

// NURLFile is the file in the node directory the sidecar writes its NURL
// to (mode 0600: the NURL carries the swissnum).
const NURLFile = "watch-nurl"

// Config configures a Notifier.
type Config struct {
	BaseDir string // the Tahoe storage node's directory
	// StorageDir is the node's storage directory ([storage] storage_dir);
	// "" means BaseDir/storage.
	StorageDir string
	Listen     string        // "host:port" to listen on; default "127.0.0.1:0"
	Settle     time.Duration // quiet time before reading a share; default DefaultSettle
	// Advertise, if set, returns the NURL's location hints for the
	// address listened on (an error fails New); nil advertises that
	// address itself.
	Advertise func(net.Addr) ([]string, error)
	Hub       watchserver.Options
	Logger    *slog.Logger
}

// Notifier is a running sidecar's state.
type Notifier struct {
	cfg     Config
	id      *identity.Identity
	src     watchserver.DiskSource
	hub     *watchserver.Hub
	fw      *fsnotify.Watcher
	log     *slog.Logger
	nurl    *nurl.NURL
	listen  net.Listener
	serving atomic.Bool

	mu      sync.Mutex
	watched map[string]bool            // base32 storage indexes somebody subscribes to
	absent  map[string]map[string]bool // prefix → watched indexes whose directory is gone
}

// New checks that cfg.BaseDir is a readable Tahoe storage node, loads its
// identity and starts listening. It changes nothing in the node directory
// until Run writes NURLFile.
func New(cfg Config) (*Notifier, error) {
	const op = "notifier.New"
	if cfg.StorageDir == "" {
		cfg.StorageDir = filepath.Join(cfg.BaseDir, "storage")
	}
	if err := checkNodeDir(cfg.BaseDir, cfg.StorageDir); err != nil {
		return nil, err
	}
	id, err := identity.LoadOrCreate(cfg.BaseDir) // everything exists: only loads
	if err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fw.Close()
		return nil, errkind.E(op, errkind.Usage, err)
	}
	hints := []string{ln.Addr().String()}
	if cfg.Advertise != nil {
		if hints, err = cfg.Advertise(ln.Addr()); err != nil {
			fw.Close()
			ln.Close()
			return nil, err
		}
	}
	n := &Notifier{cfg: cfg, id: id, fw: fw, log: cfg.Logger, listen: ln,
		watched: map[string]bool{}, absent: map[string]map[string]bool{},
		src: watchserver.DiskSource{Dir: filepath.Join(cfg.StorageDir, "shares")}}
	n.nurl = id.NURL(hints)
	opts := cfg.Hub
	opts.Watcher = (*dirWatcher)(n)
	if opts.Logger == nil {
		opts.Logger = cfg.Logger
	}
	n.hub = watchserver.NewHub(n.src, opts)
	return n, nil
}

// checkNodeDir explains what is wrong with a directory that is not a
// readable storage node.
func checkNodeDir(base, storageDir string) error {
	const op = "notifier"
	st, err := os.Stat(base)
	if err != nil {
		return errkind.E(op, errkind.Usage, "node directory: %v", err)
	}
	if !st.IsDir() {
		return errkind.E(op, errkind.Usage, "node directory %s is not a directory", base)
	}
	need := []struct{ path, why string }{
		{filepath.Join(base, "private", "node.pem"), "not a Tahoe node directory"},
		{filepath.Join(base, "private", "storage.furl"), "not a storage node (is [storage] enabled, and has the node run once?)"},
		{filepath.Join(storageDir, "shares"), "not a storage node (is [storage] enabled, and has the node run once?)"},
	}
	for _, n := range need {
		p := n.path
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return errkind.E(op, errkind.Usage, "%s: no %s", n.why, p)
		} else if err != nil {
			return errkind.E(op, errkind.Usage, "cannot read %s: %v", p, err)
		}
	}
	return nil
}

// NURL is the sidecar's NURL: the node's SPKI hash and swissnum, with the
// listening address as its location hint.
func (n *Notifier) NURL() *nurl.NURL { return n.nurl }

// Serving reports whether Run is serving the watch endpoint.
func (n *Notifier) Serving() bool { return n.serving.Load() }

// Hub returns the sidecar's subscription hub.
func (n *Notifier) Hub() *watchserver.Hub { return n.hub }

// Close releases what New acquired, for a Notifier whose Run is never
// called (Run releases it itself).
func (n *Notifier) Close() error {
	n.fw.Close()
	return n.listen.Close()
}

// Run writes NURLFile and serves until ctx is cancelled, then removes
// NURLFile again. With cfg.Hub.Metrics set, every response is counted by
// route.
func (n *Notifier) Run(ctx context.Context) error {
	const op = "notifier.Run"
	defer n.fw.Close()
	p := filepath.Join(n.cfg.BaseDir, NURLFile)
	if err := os.WriteFile(p, []byte(n.nurl.String()+"\n"), 0o600); err != nil {
		n.listen.Close()
		return errkind.E(op, errkind.Usage, "cannot write %s: %v", p, err)
	}
	defer os.Remove(p)
	defer n.serving.Store(false)
	mux := http.NewServeMux()
	watchserver.Mount(mux, watchserver.NewHandler(n.hub, n.id.Swissnum))
	tlsConf := &tls.Config{Certificates: []tls.Certificate{n.id.Certificate}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"}}
	hs := &http.Server{Handler: n.cfg.Hub.Metrics.InstrumentRoutes(mux), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:    slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return ctx }}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(tls.NewListener(n.listen, tlsConf)) }()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		n.eventLoop(ctx)
	}()
	n.serving.Store(true)
	n.log.Info("watch sidecar serving", "nurl", n.nurl.Redacted(), "listen", n.listen.Addr().String(), "nurl_file", p)
	var err error
	select {
	case err = <-served:
		err = errkind.E(op, errkind.Other, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}
	n.fw.Close()
	<-loopDone
	return err
}

package cli

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// serveOptions are the flags of "tahoe-watch serve".
type serveOptions struct {
	baseDir  string
	listen   string
	nickname string
	watch    bool
	metrics  string // --metrics-listen; "" is off
	logger   *slog.Logger
}

// MetricsAddrFile is the file, in the node directory, where serve and
// notifier write the address their --metrics-listen server listens on.
const MetricsAddrFile = "metrics-addr"

func newServeCommand(s Streams) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --base-dir DIR [--listen HOST:PORT] [--nickname NAME]",
		Short: "Run a Tahoe-LAFS storage server (HTTP storage protocol) on a node directory",
		Long: `serve runs a storage server speaking Tahoe-LAFS's HTTP storage protocol
("Great Black Swamp") over TLS, keeping shares exactly where and how a
Tahoe-LAFS 1.20 storage node does: DIR/storage/shares/<prefix>/<storage index>/<share>.

DIR may be a real Tahoe node directory: its private/node.pem (TLS key and
certificate) and the swissnum in private/storage.furl are used as they are,
so clients that know the node's NURL keep working. In a fresh DIR both are
created.

Once listening, serve writes its NURL to DIR/nurl and logs it on stderr.
It stops gracefully on SIGINT or SIGTERM.

With --watch (the default) the server also serves the watch protocol
(docs/watch-protocol.md) at /storage/v1/watch and advertises it in its
version document, so tahoe-watch clients get change notices pushed instead
of polling. --watch=false turns the endpoint off, making serve behave like
a plain Tahoe-LAFS storage server.

--metrics-listen ADDR serves Prometheus metrics at http://ADDR/metrics
(requests by endpoint and status, watch connections, subscriptions, notices
sent and their latency, slow consumers dropped); the address it listens on
is logged and written to DIR/metrics-addr. See docs/operations.md.`,
		Example: `  tahoe-watch serve --base-dir ~/.tahoe-storage
  tahoe-watch serve --base-dir ./node --listen 127.0.0.1:3457 --nickname alpha`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.logger = slog.New(slog.NewTextHandler(s.Err, nil))
			return serveRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.baseDir, "base-dir", "", "node directory (required); created if missing")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port (see DIR/nurl)")
	f.StringVar(&opts.nickname, "nickname", "", "nickname for logs")
	f.BoolVar(&opts.watch, "watch", true, "serve and advertise the watch endpoint (push change notices)")
	f.StringVar(&opts.metrics, "metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (default off; see DIR/metrics-addr)")
	return cmd
}

// serveRun starts the server and serves until ctx is cancelled.
func serveRun(ctx context.Context, opts *serveOptions) error {
	const op = "serve"
	if opts.baseDir == "" {
		return errkind.E(op, errkind.Usage, "--base-dir is required (see --help)")
	}
	if err := os.MkdirAll(opts.baseDir, 0o700); err != nil {
		return errkind.E(op, errkind.Usage, "cannot create base directory: %v", err)
	}
	var reg *metrics.Registry
	if opts.metrics != "" {
		reg = metrics.New()
	}
	srv, err := newStorageServer(opts, serverMetrics(reg))
	if err != nil {
		return errkind.E(op, errkind.KindOf(err), err)
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return errkind.E(op, errkind.Usage, "cannot listen on %s: %v", opts.listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitMetrics, err := startMetrics(ctx, reg, opts.metrics, filepath.Join(opts.baseDir, MetricsAddrFile), opts.logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer waitMetrics()
	n := srv.NURLFor(ln.Addr().String())
	if err := writeFileAtomic(filepath.Join(opts.baseDir, "nurl"), []byte(n.String()+"\n")); err != nil {
		ln.Close()
		return errkind.E(op, errkind.Other, "writing nurl: %v", err)
	}
	opts.logger.Info("serving", "nurl", n.String(), "nickname", opts.nickname, "base_dir", opts.baseDir)
	err = srv.Serve(ctx, ln)
	opts.logger.Info("stopped", "nickname", opts.nickname)
	return err
}

// serverMetrics is reg's server metrics, or nil when metrics are off.
func serverMetrics(reg *metrics.Registry) *metrics.Server {
	if reg == nil {
		return nil
	}
	return reg.Server
}

// startMetrics serves reg's /metrics on addr until ctx is done, logging
// the address it listens on and writing it to file. With addr empty it
// does nothing. wait returns once the metrics server has stopped.
func startMetrics(ctx context.Context, reg *metrics.Registry, addr, file string, log *slog.Logger) (wait func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errkind.E("metrics", errkind.Usage, "cannot listen on --metrics-listen %s: %v", addr, err)
	}
	if err := writeFileAtomic(file, []byte(ln.Addr().String()+"\n")); err != nil {
		ln.Close()
		return nil, errkind.E("metrics", errkind.Other, "writing %s: %v", file, err)
	}
	log.Info("metrics serving", "url", "http://"+ln.Addr().String()+"/metrics", "addr_file", file)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := reg.ServeListener(ctx, ln); err != nil {
			log.Warn("metrics server stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}

// newStorageServer builds the storage server, with the watch endpoint
// mounted and advertised unless opts.watch is off.
func newStorageServer(opts *serveOptions, m *metrics.Server) (*storage.Server, error) {
	cfg := storage.Config{BaseDir: opts.baseDir, Nickname: opts.nickname, Logger: opts.logger}
	if m != nil {
		cfg.Wrap = m.InstrumentRoutes
	}
	if !opts.watch {
		return storage.NewServer(cfg)
	}
	srv, _, err := watchserver.NewStorageServer(cfg, watchserver.Options{Logger: opts.logger, Metrics: m})
	return srv, err
}

// writeFileAtomic replaces path with data so readers see old or new, whole.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nurl-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

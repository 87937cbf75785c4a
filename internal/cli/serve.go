package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// serveOptions are the flags of "tahoe-watch serve".
type serveOptions struct {
	baseDir   string
	listen    string   // "" is tahoe.cfg's tub.port, else PortFile, else defaultListen
	locations []string // --location; nil is tahoe.cfg's tub.location or the address listened on
	nickname  string   // "" is tahoe.cfg's nickname
	watch     bool
	metrics   string // --metrics-listen; "" is off
	log       logging.Options
	limits    watchserver.Options
	logger    *slog.Logger
}

// MetricsAddrFile is the file, in the node directory, where serve and
// notifier write the address their --metrics-listen server listens on.
const MetricsAddrFile = "metrics-addr"

// NURLFile is the file in serve's node directory holding its NURL while
// it runs (mode 0600: the NURL carries the swissnum).
const NURLFile = "nurl"

func newServeCommand(s Streams) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --base-dir DIR [--listen HOST:PORT] [--location HOST:PORT]... [--nickname NAME]",
		Short: "Run a Tahoe-LAFS storage server (HTTP storage protocol) on a node directory",
		Long: `serve runs a storage server speaking Tahoe-LAFS's HTTP storage protocol
("Great Black Swamp") over TLS, keeping shares exactly where and how a
Tahoe-LAFS 1.20 storage node does: DIR/storage/shares/<prefix>/<storage index>/<share>.

DIR may be a real Tahoe node directory: its private/node.pem (TLS key and
certificate) and the swissnum in private/storage.furl are used as they are,
so clients that know the node's NURL keep working, and its tahoe.cfg is
read as Tahoe reads it: [node] tub.port (where to listen), tub.location
(what to advertise), nickname, and [storage] enabled, readonly,
reserved_space (immutable shares that would eat into it are refused, as
Tahoe does) and storage_dir. Flags override tahoe.cfg. In a fresh DIR the
identity is created.

Where it listens: --listen, else tub.port, else the port recorded in
DIR/client.port, else 127.0.0.1 on a free port, which is then recorded in
DIR/client.port so that restarts keep the same port and the same NURL.

What it advertises in its NURL: --location HOST:PORT (repeatable, like
tub.location; give the names or addresses clients dial), else, unless
--listen overrode tub.port, tub.location (AUTO when unset: this machine's
addresses), else the address it listens on. Listening on every address
(--listen 0.0.0.0:PORT or [::]:PORT) needs --location.

Once listening, serve writes its NURL to DIR/nurl (removed when it stops)
and logs it without the swissnum. It stops gracefully on SIGINT or SIGTERM.

With --watch (the default) the server also serves the watch protocol
(docs/watch-protocol.md) at /storage/v1/watch and advertises it in its
version document, so tahoe-watch clients get change notices pushed instead
of polling. --watch=false turns the endpoint off, making serve behave like
a plain Tahoe-LAFS storage server. The --watch-* flags set its limits per
client and per server (docs/watch-protocol.md, "Limits").

--metrics-listen ADDR serves Prometheus metrics at http://ADDR/metrics,
liveness at /healthz and readiness at /readyz; the address it listens on
is logged and written to DIR/metrics-addr (removed when it stops). See
docs/operations.md.`,
		Example: `  tahoe-watch serve --base-dir ~/.tahoe-storage
  tahoe-watch serve --base-dir ./node --listen 127.0.0.1:3457 --nickname alpha
  tahoe-watch serve --base-dir /var/lib/tahoe-watch --listen 0.0.0.0:3457 --location storage1.example.org:3457`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.log.Validate(); err != nil {
				return errkind.E("serve", errkind.Usage, err)
			}
			if err := checkWatchLimits(opts.limits); err != nil {
				return err
			}
			opts.logger, _ = newLogger(s.Err, opts.log)
			return serveRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.baseDir, "base-dir", "", "node `DIR` (required); created if missing")
	f.StringVar(&opts.listen, "listen", "", "`HOST:PORT` to listen on (default: tahoe.cfg tub.port, else DIR/client.port, else 127.0.0.1 on a free port, recorded)")
	f.StringSliceVar(&opts.locations, "location", nil, "`HOST:PORT` to advertise in the NURL (repeatable; default: tahoe.cfg tub.location, else the address listened on)")
	f.StringVar(&opts.nickname, "nickname", "", "`NAME` for logs (default: tahoe.cfg nickname)")
	f.BoolVar(&opts.watch, "watch", true, "serve and advertise the watch endpoint (push change notices)")
	f.StringVar(&opts.metrics, "metrics-listen", "", "serve /metrics, /healthz and /readyz on http://`ADDR` (default off; see DIR/metrics-addr)")
	logging.AddFlags(f, &opts.log)
	completeLogFlags(cmd)
	addWatchLimitFlags(f, &opts.limits)
	return cmd
}

// serveRun starts the server and serves until ctx is cancelled.
func serveRun(ctx context.Context, opts *serveOptions) error {
	const op = "serve"
	if opts.baseDir == "" {
		return errkind.E(op, errkind.Usage, "--base-dir is required (see --help)")
	}
	if opts.logger == nil {
		opts.logger = slog.Default()
	}
	if err := os.MkdirAll(opts.baseDir, 0o700); err != nil {
		return errkind.E(op, errkind.Usage, "cannot create base directory: %v", err)
	}
	node, err := gridconfig.ReadStorageNode(opts.baseDir)
	if err != nil {
		return err
	}
	if !node.StorageEnabled {
		return errkind.E(op, errkind.Usage, "%s says [storage] enabled = false: this node is not a storage server",
			filepath.Join(opts.baseDir, "tahoe.cfg"))
	}
	if opts.nickname == "" {
		opts.nickname = node.Nickname
	}
	nurlFile, metricsFile := filepath.Join(opts.baseDir, NURLFile), filepath.Join(opts.baseDir, MetricsAddrFile)
	plan, err := planListen(opts.listen, opts.baseDir, node)
	if err != nil {
		return err
	}
	if !plan.fromCfg && len(opts.locations) == 0 && isWildcard(plan.addr) {
		return noAdvertiseError(plan.addr) // before anything is created or bound
	}
	var reg *metrics.Registry
	if opts.metrics != "" {
		reg = metrics.NewServer()
	}
	srv, err := newStorageServer(opts, node, serverMetrics(reg))
	if err != nil {
		return errkind.E(op, errkind.KindOf(err), err)
	}
	ln, hints, err := listenAndAdvertise(opts, plan, node)
	if err != nil {
		return err
	}
	// Now listening (a second serve on the recorded port fails above), a
	// previous run's files are stale.
	removeStale(nurlFile, opts.logger)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitMetrics, err := startMetrics(ctx, reg, opts.metrics, metricsFile, opts.logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer func() { cancel(); waitMetrics() }()
	n := srv.Identity().NURL(hints)
	if err := writeFileAtomic(nurlFile, []byte(n.String()+"\n")); err != nil {
		ln.Close()
		return errkind.E(op, errkind.Other, "writing nurl: %v", err)
	}
	defer os.Remove(nurlFile)
	setReady(reg, filepath.Join(srv.Backend().Dir(), "shares"))
	opts.logger.Info("serving", "nurl", n.Redacted(), "listen", ln.Addr().String(), "nickname", opts.nickname,
		"base_dir", opts.baseDir, "nurl_file", nurlFile)
	err = srv.Serve(ctx, ln)
	opts.logger.Info("stopped", "nickname", opts.nickname)
	return err
}

// listenAndAdvertise binds plan's address and works out the NURL's
// location hints, recording a freshly chosen port.
func listenAndAdvertise(opts *serveOptions, plan listenPlan, node *gridconfig.StorageNode) (net.Listener, []string, error) {
	const op = "serve"
	ln, err := net.Listen("tcp", plan.addr)
	if err != nil {
		where := "--listen"
		if plan.fromCfg {
			where = "tahoe.cfg tub.port or " + PortFile
		}
		return nil, nil, errkind.E(op, errkind.Usage, "cannot listen on %s (%s): %v", plan.addr, where, err)
	}
	hints, err := advertise(opts.locations, node.Location, plan.fromCfg, ln.Addr(), opts.logger)
	if err == nil && plan.record {
		if err = recordPort(opts.baseDir, ln.Addr()); err != nil {
			err = errkind.E(op, errkind.Other, "recording the port in %s: %v", PortFile, err)
		}
	}
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, hints, nil
}

// setReady makes /readyz answer ready while the shares directory is
// there (the listener is already serving).
func setReady(reg *metrics.Registry, shares string) {
	if reg == nil {
		return
	}
	reg.SetReady(func() error {
		if _, err := os.Stat(shares); err != nil {
			return errors.New("storage directory unreadable")
		}
		return nil
	})
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
// only removes a file a previous run left. wait returns once the metrics
// server has stopped and file is removed again.
func startMetrics(ctx context.Context, reg *metrics.Registry, addr, file string, log *slog.Logger) (wait func(), err error) {
	if addr == "" {
		removeStale(file, log)
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
	return func() { <-done; os.Remove(file) }, nil
}

// newStorageServer builds the storage server as tahoe.cfg says, with the
// watch endpoint mounted and advertised unless opts.watch is off.
func newStorageServer(opts *serveOptions, node *gridconfig.StorageNode, m *metrics.Server) (*storage.Server, error) {
	cfg := storage.Config{BaseDir: opts.baseDir, Nickname: opts.nickname, Logger: opts.logger,
		StorageDir: node.StorageDir, ReservedSpace: node.ReservedSpace, ReadOnly: node.ReadOnly}
	if m != nil {
		cfg.Wrap = m.InstrumentRoutes
	}
	if !opts.watch {
		return storage.NewServer(cfg)
	}
	wo := opts.limits
	wo.Logger, wo.Metrics = opts.logger, m
	srv, _, err := watchserver.NewStorageServer(cfg, wo)
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

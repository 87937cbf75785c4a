package cli

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/notifier"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// NotifierMetricsAddrFile is the file, in the Tahoe node directory, where
// the notifier writes the address of its --metrics-listen server.
const NotifierMetricsAddrFile = "watch-metrics-addr"

// NotifierPortFile is the file in the Tahoe node directory recording the
// port the sidecar's first start chose without --listen, so its watch
// NURL stays the same across restarts.
const NotifierPortFile = "watch.port"

// notifierOptions are the flags of "tahoe-watch notifier".
type notifierOptions struct {
	baseDir   string
	listen    string   // "" is NotifierPortFile, else 127.0.0.1 on a free port (recorded)
	locations []string // --location
	settle    time.Duration
	keepAlive time.Duration
	metrics   string // --metrics-listen; "" is off
	log       logging.Options
	limits    watchserver.Options
	logger    *slog.Logger
}

func newNotifierCommand(s Streams) *cobra.Command {
	opts := &notifierOptions{}
	cmd := &cobra.Command{
		Use:   "notifier --base-dir TAHOE_NODE_DIR [--listen HOST:PORT] [--location HOST:PORT]...",
		Short: "Push change notices for an existing Tahoe-LAFS storage node (watch sidecar)",
		Long: `notifier runs next to an unmodified Tahoe-LAFS storage node and serves only
the watch endpoint (docs/watch-protocol.md), so that clients are told the
moment a mutable share they watch changes instead of polling.

It uses the node's own TLS key (private/node.pem) and swissnum (from
private/storage.furl), so its NURL has the node's SPKI hash; it writes that
NURL to TAHOE_NODE_DIR/watch-nurl (removed when it stops). Give it to
clients as the server's anonymous-watch-NURLs entry in a grid file, or
with --watch-server. It reads the node's tahoe.cfg for [storage]
storage_dir and enabled, and for the host names in tub.location.

Where it listens: --listen, else the port recorded in
TAHOE_NODE_DIR/watch.port, else 127.0.0.1 on a free port, then recorded,
so restarts keep the same watch NURL. What it advertises: --location
HOST:PORT (repeatable), else the address it listens on; listening on
every address (0.0.0.0 or [::]) advertises the hosts of the node's
tub.location with the sidecar's port, and is refused when there are none.

It watches (inotify) only the share directories somebody subscribes to,
and reads a share once its writes have settled. The --watch-* flags set
its limits per client and per server, as for serve. It stops on SIGINT or
SIGTERM.

--metrics-listen ADDR serves Prometheus metrics at http://ADDR/metrics,
liveness at /healthz and readiness at /readyz; the address it listens on
is logged and written to TAHOE_NODE_DIR/watch-metrics-addr (removed when
it stops). See docs/operations.md.`,
		Example: `  tahoe-watch notifier --base-dir ~/.tahoe
  tahoe-watch notifier --base-dir /var/lib/tahoe --listen 0.0.0.0:3458 --location storage2.example.org:3458`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.log.Validate(); err != nil {
				return errkind.E("notifier", errkind.Usage, err)
			}
			if err := checkWatchLimits(opts.limits); err != nil {
				return err
			}
			opts.logger, _ = newLogger(s.Err, opts.log)
			return notifierRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.baseDir, "base-dir", "", "the Tahoe storage node's directory, `TAHOE_NODE_DIR` (required)")
	f.StringVar(&opts.listen, "listen", "", "`HOST:PORT` to listen on (default: the port in TAHOE_NODE_DIR/watch.port, else 127.0.0.1 on a free port, recorded)")
	f.StringSliceVar(&opts.locations, "location", nil, "`HOST:PORT` to advertise in the watch NURL (repeatable; default: the address listened on)")
	f.DurationVar(&opts.settle, "settle", notifier.DefaultSettle, "quiet time after a write before a share is read")
	f.DurationVar(&opts.keepAlive, "keepalive", 30*time.Second, "ping interval for connected clients")
	f.StringVar(&opts.metrics, "metrics-listen", "", "serve /metrics, /healthz and /readyz on http://`ADDR` (default off; see watch-metrics-addr)")
	logging.AddFlags(f, &opts.log)
	completeLogFlags(cmd)
	addWatchLimitFlags(f, &opts.limits)
	return cmd
}

// notifierRun serves the watch endpoint until ctx is cancelled.
func notifierRun(ctx context.Context, opts *notifierOptions) error {
	const op = "notifier"
	if opts.baseDir == "" {
		return errkind.E(op, errkind.Usage, "--base-dir is required (see --help)")
	}
	if opts.logger == nil {
		opts.logger = slog.Default()
	}
	node, err := gridconfig.ReadStorageNode(opts.baseDir)
	if err != nil {
		return err
	}
	if !node.StorageEnabled {
		return errkind.E(op, errkind.Usage, "%s says [storage] enabled = false: no storage server to watch",
			filepath.Join(opts.baseDir, "tahoe.cfg"))
	}
	metricsFile := filepath.Join(opts.baseDir, NotifierMetricsAddrFile)
	listen, record, err := notifierListen(opts)
	if err != nil {
		return err
	}
	var reg *metrics.Registry
	if opts.metrics != "" {
		reg = metrics.NewServer()
	}
	hub := opts.limits
	hub.KeepAlive, hub.Metrics = opts.keepAlive, serverMetrics(reg)
	n, err := notifier.New(notifier.Config{BaseDir: opts.baseDir, StorageDir: node.StorageDir, Listen: listen, Settle: opts.settle,
		Advertise: func(a net.Addr) ([]string, error) { return sidecarHints(opts, node, a, record) },
		Hub:       hub, Logger: opts.logger})
	if err != nil {
		return err
	}
	// Now listening, a previous run's files are stale (Run rewrites the NURL).
	removeStale(filepath.Join(opts.baseDir, notifier.NURLFile), opts.logger)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitMetrics, err := startMetrics(ctx, reg, opts.metrics, metricsFile, opts.logger)
	if err != nil {
		n.Close()
		return err
	}
	defer func() { cancel(); waitMetrics() }()
	if reg != nil {
		reg.SetReady(func() error {
			if !n.Serving() {
				return errors.New("not serving")
			}
			return nil
		})
	}
	return n.Run(ctx)
}

// notifierListen is --listen, else the recorded port, else a fresh
// loopback port to record.
func notifierListen(opts *notifierOptions) (addr string, record bool, err error) {
	if opts.listen != "" {
		return opts.listen, false, nil
	}
	p := filepath.Join(opts.baseDir, NotifierPortFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultListen, true, nil
	} else if err != nil {
		return "", false, errkind.E("notifier", errkind.Usage, "cannot read %s: %v", p, err)
	}
	addr, err = gridconfig.ParseTubPort(strings.TrimSpace(string(b)))
	if err != nil {
		return "", false, errkind.E("notifier", errkind.Usage, "%s: %v (remove it to pick a new port)", p, err)
	}
	return addr, false, nil
}

// sidecarHints are the watch NURL's hints: --location, else the
// concrete address listened on, else (a wildcard) the hosts of the
// node's tub.location on the sidecar's port. A freshly chosen port is
// recorded.
func sidecarHints(opts *notifierOptions, node *gridconfig.StorageNode, a net.Addr, record bool) ([]string, error) {
	var cfgLoc []string
	host, port, _ := net.SplitHostPort(a.String())
	ip := net.ParseIP(host)
	wildcard := ip != nil && ip.IsUnspecified()
	for _, h := range node.Location {
		if !wildcard {
			break
		}
		if host, _, err := net.SplitHostPort(strings.TrimPrefix(h, "tcp:")); err == nil {
			cfgLoc = append(cfgLoc, net.JoinHostPort(host, port))
		} else if h == "AUTO" {
			cfgLoc = append(cfgLoc, h)
		}
	}
	hints, err := advertise(opts.locations, cfgLoc, cfgLoc != nil, a, opts.logger)
	if err == nil && record {
		if err = recordPortIn(filepath.Join(opts.baseDir, NotifierPortFile), a); err != nil {
			err = errkind.E("notifier", errkind.Other, "recording the port in %s: %v", NotifierPortFile, err)
		}
	}
	return hints, err
}

package cli

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/notifier"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// NotifierMetricsAddrFile is the file, in the Tahoe node directory, where
// the notifier writes the address of its --metrics-listen server.
const NotifierMetricsAddrFile = "watch-metrics-addr"

// notifierOptions are the flags of "tahoe-watch notifier".
type notifierOptions struct {
	baseDir   string
	listen    string
	settle    time.Duration
	keepAlive time.Duration
	metrics   string // --metrics-listen; "" is off
	logger    *slog.Logger
}

func newNotifierCommand(s Streams) *cobra.Command {
	opts := &notifierOptions{}
	cmd := &cobra.Command{
		Use:   "notifier --base-dir TAHOE_NODE_DIR [--listen HOST:PORT]",
		Short: "Push change notices for an existing Tahoe-LAFS storage node (watch sidecar)",
		Long: `notifier runs next to an unmodified Tahoe-LAFS storage node and serves only
the watch endpoint (docs/watch-protocol.md), so that clients are told the
moment a mutable share they watch changes instead of polling.

It uses the node's own TLS key (private/node.pem) and swissnum (from
private/storage.furl), so its NURL has the node's SPKI hash; it writes that
NURL to TAHOE_NODE_DIR/watch-nurl. Give it to clients as the server's
anonymous-watch-NURLs entry in a grid file, or with --watch-server.

It watches (inotify) only the share directories somebody subscribes to,
and reads a share once its writes have settled. It stops on SIGINT or
SIGTERM.

--metrics-listen ADDR serves Prometheus metrics at http://ADDR/metrics;
the address it listens on is logged and written to
TAHOE_NODE_DIR/watch-metrics-addr. See docs/operations.md.`,
		Example: `  tahoe-watch notifier --base-dir ~/.tahoe --listen 0.0.0.0:3458`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.logger = slog.New(slog.NewTextHandler(s.Err, nil))
			return notifierRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.baseDir, "base-dir", "", "the Tahoe storage node's directory (required)")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port (see watch-nurl)")
	f.DurationVar(&opts.settle, "settle", notifier.DefaultSettle, "quiet time after a write before a share is read")
	f.DurationVar(&opts.keepAlive, "keepalive", 30*time.Second, "ping interval for connected clients")
	f.StringVar(&opts.metrics, "metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (default off; see watch-metrics-addr)")
	return cmd
}

// notifierRun serves the watch endpoint until ctx is cancelled.
func notifierRun(ctx context.Context, opts *notifierOptions) error {
	const op = "notifier"
	if opts.baseDir == "" {
		return errkind.E(op, errkind.Usage, "--base-dir is required (see --help)")
	}
	var reg *metrics.Registry
	if opts.metrics != "" {
		reg = metrics.New()
	}
	n, err := notifier.New(notifier.Config{BaseDir: opts.baseDir, Listen: opts.listen, Settle: opts.settle,
		Hub: watchserver.Options{KeepAlive: opts.keepAlive, Metrics: serverMetrics(reg)}, Logger: opts.logger})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitMetrics, err := startMetrics(ctx, reg, opts.metrics, filepath.Join(opts.baseDir, NotifierMetricsAddrFile), opts.logger)
	if err != nil {
		n.Close()
		return err
	}
	defer waitMetrics()
	return n.Run(ctx)
}

package cli

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// TestServeWatchFlag checks that serve advertises and serves the watch
// endpoint by default, and that --watch=false turns both off.
func TestServeWatchFlag(t *testing.T) {
	for _, watch := range []bool{true, false} {
		base := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- serveRun(ctx, &serveOptions{baseDir: base, watch: watch, listen: "127.0.0.1:0",
				logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
		}()
		n := waitNURL(t, base)
		c := grid.New(n, nil)
		v, err := c.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := watchproto.Advertised(v.ApplicationVersion); got != watch {
			t.Errorf("watch=%v: application-version %q advertises=%v", watch, v.ApplicationVersion, got)
		}
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := watchproto.DialNURL(dctx, n, grid.PinnedTLSConfig(n.SPKIHash, "test"), watchproto.DialOptions{})
		dcancel()
		if watch && err != nil {
			t.Errorf("watch=true: dial: %v", err)
		}
		if !watch && err == nil {
			t.Errorf("watch=false: dial succeeded")
		}
		if conn != nil {
			conn.Close()
		}
		c.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
	}
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// GridOptions configure an embedded grid.
type GridOptions struct {
	Servers int  // how many storage servers; default 5
	NoWatch bool // serve no watch endpoint: clients must poll
	// Watch are the watch endpoints' limits (zero: the defaults).
	Watch  watchserver.Options
	Logger *slog.Logger
}

// Grid is an embedded grid: storage servers (internal/storage) with watch
// endpoints (internal/watchserver) on loopback TLS, each under its own
// node directory below Dir.
type Grid struct {
	Dir   string
	Nodes []*Node
}

// Node is one storage server of a Grid.
type Node struct {
	Nickname string
	Base     string           // node directory
	Info     *grid.ServerInfo // as a client sees it; stable across restarts
	watch    bool
	hubOpts  watchserver.Options
	log      *slog.Logger

	mu     sync.Mutex
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// StartGrid starts a grid in dir, creating its node directories.
func StartGrid(ctx context.Context, dir string, o GridOptions) (*Grid, error) {
	if o.Servers <= 0 {
		o.Servers = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Grid{Dir: dir}
	for i := range o.Servers {
		n := &Node{Nickname: fmt.Sprintf("storage%d", i+1), Base: filepath.Join(dir, fmt.Sprintf("storage%d", i+1)),
			watch: !o.NoWatch, hubOpts: o.Watch, log: o.Logger, addr: "127.0.0.1:0"}
		n.hubOpts.Logger = o.Logger
		if err := os.MkdirAll(n.Base, 0o700); err != nil {
			g.Close()
			return nil, errkind.E("demo.StartGrid", errkind.Other, err)
		}
		if err := n.start(ctx); err != nil {
			g.Close()
			return nil, err
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

// Grid returns the grid as a client sees it.
func (g *Grid) Grid() *grid.Grid {
	var infos []*grid.ServerInfo
	for _, n := range g.Nodes {
		infos = append(infos, n.Info)
	}
	return grid.NewGrid(infos)
}

// ServerFlags returns "--server NURL" for every server.
func (g *Grid) ServerFlags() []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, "--server", n.Info.NURLs[0].String())
	}
	return out
}

// Close stops every server.
func (g *Grid) Close() {
	for _, n := range g.Nodes {
		n.Stop()
	}
}

// Stop stops the server and closes its connections.
func (n *Node) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel, n.done = nil, nil
}

// Restart starts a stopped server again on the same address and key.
func (n *Node) Restart(ctx context.Context) error { return n.start(ctx) }

// newServer builds the node's storage server, watching and advertising
// the watch endpoint unless the grid plays plain Tahoe servers.
func (n *Node) newServer() (*storage.Server, error) {
	cfg := storage.Config{BaseDir: n.Base, Nickname: n.Nickname, Logger: n.log}
	if !n.watch {
		return storage.NewServer(cfg)
	}
	srv, _, err := watchserver.NewStorageServer(cfg, n.hubOpts)
	return srv, err
}

func (n *Node) start(ctx context.Context) error {
	const op = "demo.Node"
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel != nil {
		return nil
	}
	srv, err := n.newServer()
	if err != nil {
		return err
	}
	ln, err := listen(ctx, n.addr)
	if err != nil {
		srv.Backend().Close()
		return errkind.E(op, errkind.Other, err)
	}
	n.addr = ln.Addr().String()
	if n.Info == nil {
		n.Info = grid.FromNURL(srv.NURLFor(n.addr))
		n.Info.Nickname = n.Nickname
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	n.cancel, n.done = cancel, done
	return nil
}

// listen listens on addr, retrying for a moment: a restarted server's
// port may still be held by the kernel.
func listen(ctx context.Context, addr string) (net.Listener, error) {
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			return ln, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil, err
}

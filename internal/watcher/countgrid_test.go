package watcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// countGrid is a loopback grid of storage servers with watch endpoints
// that count, at each server, the GBS requests it serves (everything but
// the watch endpoint itself): what a watcher costs the servers.
type countGrid struct {
	Nodes []*countNode
}

// countNode is one server of a countGrid.
type countNode struct {
	Base  string
	Info  *grid.ServerInfo
	Reqs  atomic.Int64 // GBS requests served
	Watch atomic.Int64 // watch-endpoint upgrades served
}

// startCountGrid starts n servers with the default watch limits.
func startCountGrid(t testing.TB, n int) *countGrid {
	t.Helper()
	g := &countGrid{}
	for i := range n {
		nd := &countNode{Base: t.TempDir()}
		cfg := storage.Config{BaseDir: nd.Base, Nickname: fmt.Sprintf("storage%d", i+1), Logger: slog.New(slog.DiscardHandler),
			Wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == watchproto.Path {
						nd.Watch.Add(1)
					} else {
						nd.Reqs.Add(1)
					}
					h.ServeHTTP(w, r)
				})
			}}
		srv, _, err := watchserver.NewStorageServer(cfg, watchserver.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		t.Cleanup(func() { cancel(); <-done })
		nd.Info = grid.FromNURL(srv.NURLFor(ln.Addr().String()))
		nd.Info.Nickname = cfg.Nickname
		g.Nodes = append(g.Nodes, nd)
	}
	return g
}

// Grid returns the grid as a client sees it.
func (g *countGrid) Grid() *grid.Grid {
	var infos []*grid.ServerInfo
	for _, n := range g.Nodes {
		infos = append(infos, n.Info)
	}
	return grid.NewGrid(infos)
}

// bases returns the node directories.
func (g *countGrid) bases() []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.Base)
	}
	return out
}

// reqs returns the GBS requests each server has served so far.
func (g *countGrid) reqs() []int64 {
	out := make([]int64, len(g.Nodes))
	for i, n := range g.Nodes {
		out[i] = n.Reqs.Load()
	}
	return out
}

// shareDir is the directory of si's shares on node n.
func (n *countNode) shareDir(si []byte) string {
	b := base32.Encode(si)
	return filepath.Join(n.Base, "storage", "shares", b[:2], b)
}

// copyShares copies every share of si from node a to node b.
func copyShares(t testing.TB, a, b *countNode, si []byte) {
	t.Helper()
	ents, err := os.ReadDir(a.shareDir(si))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.shareDir(si), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(a.shareDir(si), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b.shareDir(si), e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

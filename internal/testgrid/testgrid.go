// Package testgrid runs grids of in-process storage servers for tests:
// each server keeps its shares under its own directory, exactly as a
// Tahoe-LAFS node lays them out, and speaks the HTTP storage protocol
// over loopback TLS with a fresh certificate pinned by its NURL.
//
// A test builds a Grid (New, RealGrid, SDMFOld), reads and writes shares
// through Grid.Grid() with the real grid client, stops and restarts
// servers, corrupts share files on disk, adds servers that accept TCP
// and never answer, and writes a servers.yaml or --server flags for
// command-line tests. Benchmarks plant many distinct mutables straight
// into node directories with PlantMutables (cmd/plant does it for
// real-process benchmarks).
package testgrid

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// Server is one in-process storage server of a Grid.
type Server struct {
	Index    int
	Nickname string
	// Base is the node directory: shares live under Base/storage/shares.
	Base string
	// Info describes the server as a client sees it; it does not change
	// across Stop and Restart.
	Info *grid.ServerInfo

	addr string

	mu     sync.Mutex
	srv    *storage.Server
	cancel context.CancelFunc
	done   chan error
}

// NURL is the server's storage NURL.
func (s *Server) NURL() *nurl.NURL { return s.Info.NURLs[0] }

// SharesDir is the directory holding the server's shares,
// Base/storage/shares/<prefix>/<storage index>/<share number>.
func (s *Server) SharesDir() string { return filepath.Join(s.Base, "storage", "shares") }

// SharePath is the path of share shnum of storage index si.
func (s *Server) SharePath(si []byte, shnum int) string {
	b := base32.Encode(si)
	return filepath.Join(s.SharesDir(), b[:2], b, fmt.Sprint(shnum))
}

// Running reports whether the server is serving.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// Stop stops the server, closing its connections. Its address stays
// reserved for Restart only by convention: nothing else listens on it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.cancel()
	<-s.done
	s.srv, s.cancel, s.done = nil, nil, nil
}

// Restart starts a stopped server again on the same address, with the
// same key, so its NURL still holds.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("testgrid: restart %s: %v", s.Nickname, err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	srv, err := storage.NewServer(storage.Config{BaseDir: s.Base, Nickname: s.Nickname,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ln, err := listen(s.addr)
	if err != nil {
		srv.Backend().Close()
		return err
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	s.srv, s.cancel, s.done = srv, cancel, done
	return nil
}

// listen listens on addr, retrying briefly: a restarted server's port may
// still be held by the kernel for a moment.
func listen(addr string) (net.Listener, error) {
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// Grid is a set of in-process storage servers, plus any hung ones.
type Grid struct {
	Servers []*Server
	hung    []*grid.ServerInfo
	t       testing.TB
}

// Spec describes one server of a grid to build. The zero value is a
// plain server named storage<index+1>.
type Spec struct {
	Nickname        string
	ID              string // server id; default "v0-" + base32 of random bytes
	FURL            string // announced anonymous-storage-FURL, for write enablers
	PermutationSeed string // announced permutation-seed-base32
	Seed            string // a directory laid out as storage/shares/ to copy in
}

// New starts n plain servers with empty storage. They stop when the test
// ends.
func New(t testing.TB, n int) *Grid {
	return Start(t, make([]Spec, n))
}

// Start starts one server per spec.
func Start(t testing.TB, specs []Spec) *Grid {
	t.Helper()
	g := &Grid{t: t}
	for i, sp := range specs {
		s, err := newServer(t, i, sp)
		if err != nil {
			t.Fatalf("testgrid: server %d: %v", i, err)
		}
		g.Servers = append(g.Servers, s)
		t.Cleanup(s.Stop)
	}
	return g
}

func newServer(t testing.TB, i int, sp Spec) (*Server, error) {
	if sp.Nickname == "" {
		sp.Nickname = fmt.Sprintf("storage%d", i+1)
	}
	if sp.ID == "" {
		sp.ID = "v0-" + base32.Encode(randomBytes(32))
	}
	s := &Server{Index: i, Nickname: sp.Nickname, Base: t.TempDir(), addr: "127.0.0.1:0"}
	if sp.Seed != "" {
		if err := copyTree(sp.Seed, s.SharesDir()); err != nil {
			return nil, err
		}
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	n := s.srv.NURLFor(s.addr)
	info, err := grid.FromAnnouncement(sp.ID, grid.Announcement{Nickname: sp.Nickname, StorageNURLs: []string{n.String()},
		StorageFURL: sp.FURL, PermutationSeed: sp.PermutationSeed})
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.Info = info
	return s, nil
}

// Grid returns the grid as a client sees it: every server, stopped or
// not, and any hung servers.
func (g *Grid) Grid() *grid.Grid {
	var infos []*grid.ServerInfo
	for _, s := range g.Servers {
		infos = append(infos, s.Info)
	}
	return grid.NewGrid(append(infos, g.hung...))
}

// AddHung adds a server that accepts TCP connections and never answers
// (not even the TLS handshake). It stops when the test ends.
func (g *Grid) AddHung() *grid.ServerInfo {
	g.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		g.t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	g.t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	n := nurl.New(newCert().Leaf, []string{ln.Addr().String()}, "hunghunghunghung")
	info, err := grid.FromAnnouncement("v0-"+base32.Encode(randomBytes(32)),
		grid.Announcement{Nickname: fmt.Sprintf("hung%d", len(g.hung)+1), StorageNURLs: []string{n.String()}})
	if err != nil {
		g.t.Fatal(err)
	}
	g.hung = append(g.hung, info)
	return info
}

// Clients returns a grid client per server (stopped and hung ones
// included), closed when the test ends.
func (g *Grid) Clients(o *grid.Options) []*grid.Client {
	g.t.Helper()
	var out []*grid.Client
	for _, s := range g.Grid().Servers {
		c, err := s.Client(o)
		if err != nil {
			g.t.Fatal(err)
		}
		g.t.Cleanup(c.Close)
		out = append(out, c)
	}
	return out
}

// PutShare writes a share file (a whole container, as stored on disk)
// for storage index si on server i, replacing any.
func (g *Grid) PutShare(i int, si []byte, shnum int, file []byte) {
	g.t.Helper()
	p := g.Servers[i].SharePath(si, shnum)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, file, 0o600); err != nil {
		g.t.Fatal(err)
	}
}

// RemoveShares deletes every share of si on server i.
func (g *Grid) RemoveShares(i int, si []byte) {
	g.t.Helper()
	dir := filepath.Dir(g.Servers[i].SharePath(si, 0))
	if err := os.RemoveAll(dir); err != nil {
		g.t.Fatal(err)
	}
}

// Wait blocks until ctx is done; it helps tests that hold servers open.
func Wait(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newCert makes a self-signed TLS certificate like a Tahoe node's.
func newCert() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand failing is not a test condition
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "newpb_thingy"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return errors.New("testgrid: not a regular file: " + p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
}

package watchproto_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// startStorage runs a GBS storage server on loopback, with the watch
// endpoint when watch is set, and returns it with its NURL.
func startStorage(t *testing.T, watch bool) (*storage.Server, *nurl.NURL) {
	t.Helper()
	srv, err := storage.NewServer(storage.Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if watch {
		watchserver.AttachToStorage(srv, watchserver.Options{})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	return srv, srv.NURLFor(ln.Addr().String())
}

// dial dials the watch endpoint named by n with the grid client's pinned
// TLS and the given swissnum.
func dial(ctx context.Context, n *nurl.NURL, swissnum string) (*watchproto.Conn, error) {
	gc := grid.New(n, nil)
	return watchproto.Dial(ctx, strings.Replace(gc.URL(watchproto.Path), "https://", "wss://", 1),
		watchproto.DialOptions{HTTPClient: gc.HTTPClient(), Swissnum: swissnum})
}

// TestDialHandshakeErrors checks that each way a handshake fails keeps
// the server's answer: a server without the endpoint is told apart from
// one that is down.
func TestDialHandshakeErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	plain, plainNURL := startStorage(t, false)
	watching, watchNURL := startStorage(t, true)
	bad := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer bad.Close()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneNURL := watching.NURLFor(gone.Addr().String())
	gone.Close()

	cases := []struct {
		name        string
		dial        func() (*watchproto.Conn, error)
		status      int
		kind        errkind.Kind
		unsupported bool
	}{
		{"no watch endpoint", func() (*watchproto.Conn, error) {
			return dial(ctx, plainNURL, plain.Identity().Swissnum)
		}, http.StatusNotFound, errkind.NotFound, true},
		{"wrong swissnum", func() (*watchproto.Conn, error) {
			return dial(ctx, watchNURL, "wrong")
		}, http.StatusUnauthorized, errkind.Auth, false},
		{"bad request", func() (*watchproto.Conn, error) {
			return watchproto.Dial(ctx, strings.Replace(bad.URL, "https://", "wss://", 1)+watchproto.Path,
				watchproto.DialOptions{HTTPClient: bad.Client()})
		}, http.StatusBadRequest, errkind.Invalid, false},
		{"server down", func() (*watchproto.Conn, error) {
			return dial(ctx, goneNURL, watching.Identity().Swissnum)
		}, 0, errkind.Unreachable, false},
	}
	for _, tc := range cases {
		c, err := tc.dial()
		if err == nil {
			c.Close()
			t.Errorf("%s: dial succeeded", tc.name)
			continue
		}
		var he *watchproto.HandshakeError
		if !errors.As(err, &he) || he.Status != tc.status {
			t.Errorf("%s: %v (%T), want a HandshakeError with status %d", tc.name, err, err, tc.status)
		}
		if k := errkind.KindOf(err); k != tc.kind {
			t.Errorf("%s: kind %v, want %v (%v)", tc.name, k, tc.kind, err)
		}
		if watchproto.Unsupported(err) != tc.unsupported {
			t.Errorf("%s: Unsupported = %v, want %v", tc.name, !tc.unsupported, tc.unsupported)
		}
	}
	c, err := dial(ctx, watchNURL, watching.Identity().Swissnum)
	if err != nil {
		t.Fatalf("dial with the right swissnum: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close of a live connection: %v", err)
	}
}

// freezer is a TCP proxy whose traffic can be stopped dead, as when a
// server's machine or network vanishes without closing anything.
type freezer struct {
	ln     net.Listener
	target string
	frozen chan struct{}
	once   sync.Once
	done   chan struct{}
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezer{ln: ln, target: target, frozen: make(chan struct{}), done: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() { close(p.done); ln.Close(); p.wg.Wait() })
	return p
}

func (p *freezer) freeze() { p.once.Do(func() { close(p.frozen) }) }

func (p *freezer) accept() {
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			a.Close()
			continue
		}
		p.wg.Go(func() { p.forward(a, b) })
		p.wg.Go(func() { p.forward(b, a) })
		p.wg.Go(func() { <-p.done; a.Close(); b.Close() })
	}
}

// forward copies src to dst until frozen; then it holds everything.
func (p *freezer) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			<-p.done
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestCloseBoundedWhenServerVanishes freezes the path to a real watch
// server under a subscribed connection: Close must give up on the close
// handshake after about a second instead of waiting many seconds.
func TestCloseBoundedWhenServerVanishes(t *testing.T) {
	srv, n := startStorage(t, true)
	p := newFreezer(t, n.Hints[0])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dial(ctx, srv.NURLFor(p.ln.Addr().String()), srv.Identity().Swissnum)
	if err != nil {
		t.Fatal(err)
	}
	// A round trip proves the path works before it freezes.
	if err := c.Unsubscribe(ctx, [][]byte{make([]byte, watchproto.SILen)}); err != nil {
		t.Fatal(err)
	}
	p.freeze()
	start := time.Now()
	err = c.Close()
	took := time.Since(start)
	if took > 3*time.Second {
		t.Errorf("Close took %v against a vanished server", took)
	}
	if !errkind.Is(err, errkind.Unreachable) {
		t.Errorf("Close: %v, want an Unreachable error", err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("connection not done after Close")
	}
	t.Logf("Close gave up after %v", took)
}

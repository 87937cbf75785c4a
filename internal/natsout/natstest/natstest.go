// Package natstest runs a real NATS server with JetStream in-process for
// tests: a file store in a directory of the test's, on a loopback port
// that stays the same across Stop and Start, so that clients reconnect
// to the restarted server and find their streams again.
package natstest

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is one NATS server, stopped and started by the test.
type Server struct {
	t    testing.TB
	opts server.Options

	mu  sync.Mutex
	srv *server.Server
}

// Start starts a JetStream server storing under a new temporary
// directory, on a free loopback port; the test's cleanup stops it.
func Start(t testing.TB) *Server { t.Helper(); return StartWith(t, nil) }

// StartWith is Start with the options edited by edit first (for
// authentication, say).
func StartWith(t testing.TB, edit func(*server.Options)) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{Host: "127.0.0.1", Port: freePort(t), JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true}}
	if edit != nil {
		edit(&s.opts)
	}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's nats:// URL; it does not change across restarts.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Stop shuts the server down and waits until it is; its store stays.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart starts the server (again) on the same port and store.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	opts := s.opts // the server keeps and changes its options
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		go srv.Start()
		if srv.ReadyForConnections(3 * time.Second) {
			break
		}
		srv.Shutdown() // the port may still be held for a moment
		if time.Now().After(deadline) {
			s.t.Fatalf("nats server on %s did not start", s.URL())
		}
		if srv, err = server.NewServer(&opts); err != nil {
			s.t.Fatalf("nats server: %v", err)
		}
	}
	s.srv = srv
}

// freePort picks a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Messages returns every message the stream holds, in stream order.
func (s *Server) Messages(t testing.TB, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.URL(), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream %s message %d: %v", stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// WaitMessages waits up to 20 s until the stream holds at least n
// messages and returns them (fewer if it never does).
func (s *Server) WaitMessages(t testing.TB, stream string, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs := s.Messages(t, stream)
		if len(msgs) >= n || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

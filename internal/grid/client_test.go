package grid

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

const testSwissnum = "ybfivklbe4gewouzxckbuc6fhlwwf777"

// newCert makes a self-signed certificate like a Tahoe node's.
func newCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "newpb_thingy"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tahoeCert is storage1's real certificate and key from the captured grid.
func tahoeCert(t testing.TB) tls.Certificate {
	t.Helper()
	pem := testutil.ReadTestdata(t, "grid", "nodes", "storage1", "private", "node.pem")
	c, err := tls.X509KeyPair(pem, pem)
	if err != nil {
		t.Fatal(err)
	}
	c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
	return c
}

// startTLS runs h over loopback TLS with cert and returns a NURL for it.
func startTLS(t *testing.T, cert tls.Certificate, h http.Handler) (*httptest.Server, *nurl.NURL) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, nurl.New(cert.Leaf, []string{srv.Listener.Addr().String()}, testSwissnum)
}

// authed wraps h with the swissnum check a storage server does.
func authed(h http.HandlerFunc) http.HandlerFunc {
	want := "Tahoe-LAFS " + base64.StdEncoding.EncodeToString([]byte(testSwissnum))
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func writeCBOR(t *testing.T, w http.ResponseWriter, v any) {
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Error(err)
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.Write(b)
}

// versionHandler answers like Tahoe 1.20: byte-string keys throughout.
func versionHandler(t *testing.T) http.HandlerFunc {
	return authed(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/storage/v1/version" || r.Header.Get("Accept") != "application/cbor" {
			http.Error(w, "not acceptable", http.StatusNotAcceptable)
			return
		}
		writeCBOR(t, w, map[any]any{
			cbor.ByteString("http://allmydata.org/tahoe/protocols/storage/v1"): map[any]any{
				cbor.ByteString("maximum-immutable-share-size"): uint64(1 << 40),
				cbor.ByteString("maximum-mutable-share-size"):   uint64(69105 << 20),
				cbor.ByteString("available-space"):              uint64(12345),
			},
			cbor.ByteString("application-version"): []byte("tahoe-lafs/1.20.0"),
		})
	})
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestVersionWithTahoeCertificate(t *testing.T) {
	cert := tahoeCert(t)
	_, n := startTLS(t, cert, versionHandler(t))
	// The pin from the captured grid's servers.yaml for storage1.
	if n.SPKIHash != "cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg" {
		t.Fatalf("storage1 SPKI hash %s", n.SPKIHash)
	}
	c := New(n, nil)
	defer c.Close()
	v, err := c.Version(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if v.AvailableSpace != 12345 || v.MaximumImmutableShareSize != 1<<40 || string(v.ApplicationVersion) != "tahoe-lafs/1.20.0" {
		t.Fatalf("version %+v", v)
	}
}

func TestPinMismatch(t *testing.T) {
	_, n := startTLS(t, newCert(t), versionHandler(t))
	other := newCert(t)
	bad := *n
	bad.SPKIHash = nurl.SPKIHash(other.Leaf)
	c := New(&bad, &Options{Name: "storage9"})
	defer c.Close()
	_, err := c.Version(ctxTimeout(t, 10*time.Second))
	var pin *PinError
	if !errors.As(err, &pin) || !errkind.Is(err, errkind.Auth) {
		t.Fatalf("err %v (%T), want a PinError of kind Auth", err, err)
	}
	if pin.Want != bad.SPKIHash || pin.Got != n.SPKIHash || pin.Server != "storage9" {
		t.Fatalf("pin error %+v", pin)
	}
	for _, s := range []string{"storage9", bad.SPKIHash, n.SPKIHash} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
}

func TestBadSignatureRejected(t *testing.T) {
	cert := newCert(t)
	der := append([]byte{}, cert.Certificate[0]...)
	leaf, _ := x509.ParseCertificate(der)
	leaf.Signature[len(leaf.Signature)-1] ^= 1
	if err := verifyPin([]*x509.Certificate{leaf}, nurl.SPKIHash(leaf), "s"); err == nil {
		t.Fatal("a certificate with a broken signature was accepted")
	}
	if err := verifyPin([]*x509.Certificate{cert.Leaf}, nurl.SPKIHash(cert.Leaf), "s"); err != nil {
		t.Fatal(err)
	}
}

func TestWrongSwissnum(t *testing.T) {
	_, n := startTLS(t, newCert(t), versionHandler(t))
	bad := *n
	bad.Swissnum = "wrongwrongwrong"
	c := New(&bad, nil)
	defer c.Close()
	_, err := c.Version(ctxTimeout(t, 10*time.Second))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 401 || !errkind.Is(err, errkind.Auth) {
		t.Fatalf("err %v, want 401 of kind Auth", err)
	}
	if strings.Contains(err.Error(), "wrongwrongwrong") {
		t.Fatalf("error leaks the swissnum: %v", err)
	}
}

func TestStatusKinds(t *testing.T) {
	for code, kind := range map[int]errkind.Kind{400: errkind.Invalid, 404: errkind.NotFound,
		409: errkind.Conflict, 412: errkind.Conflict, 401: errkind.Auth, 500: errkind.Other} {
		_, n := startTLS(t, newCert(t), authed(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		c := New(n, &Options{Retries: -1})
		err := c.RenewLease(ctxTimeout(t, 10*time.Second), make([]byte, 16), Secrets{LeaseRenew: make([]byte, 32), LeaseCancel: make([]byte, 32)})
		if errkind.KindOf(err) != kind {
			t.Errorf("%d: err %v has kind %v, want %v", code, err, errkind.KindOf(err), kind)
		}
		c.Close()
	}
}

// TestHangingServer: a server that accepts TCP and never answers must not
// hold a request past its context's deadline.
func TestHangingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, conn); conn.Close() }()
		}
	}()
	n := nurl.New(newCert(t).Leaf, []string{ln.Addr().String()}, testSwissnum)
	c := New(n, nil)
	defer c.Close()
	start := time.Now()
	_, err = c.Version(ctxTimeout(t, 300*time.Millisecond))
	elapsed := time.Since(start)
	if !errkind.Is(err, errkind.Unreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want Unreachable and DeadlineExceeded", err)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("request took %v past a 300ms deadline", elapsed)
	}
}

func TestLocationHints(t *testing.T) {
	// A closed port first: the dialer must fall through to the live hint.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	srv, n := startTLS(t, newCert(t), versionHandler(t))
	n.Hints = []string{deadAddr, srv.Listener.Addr().String()}
	c := New(n, &Options{Stagger: time.Second})
	defer c.Close()
	for i := 0; i < 3; i++ { // later requests reuse the connection or the good hint
		if _, err := c.Version(ctxTimeout(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// All hints dead: one Unreachable error.
	n2 := *n
	n2.Hints = []string{deadAddr}
	c2 := New(&n2, &Options{Retries: -1})
	defer c2.Close()
	if _, err := c2.Version(ctxTimeout(t, 5*time.Second)); !errkind.Is(err, errkind.Unreachable) {
		t.Fatalf("dead hint: %v", err)
	}
}

func TestRetriesOnlyIdempotent(t *testing.T) {
	var gets, posts atomic.Int32
	_, n := startTLS(t, newCert(t), authed(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if gets.Add(1) < 3 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			writeCBOR(t, w, shareSet{1, 5})
			return
		}
		posts.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	c := New(n, &Options{Backoff: 10 * time.Millisecond})
	defer c.Close()
	ctx := ctxTimeout(t, 10*time.Second)
	got, err := c.ListShares(ctx, Immutable, make([]byte, 16))
	if err != nil || len(got) != 2 || got[0] != 1 || got[1] != 5 || gets.Load() != 3 {
		t.Fatalf("list %v, %v after %d GETs", got, err, gets.Load())
	}
	err = c.AdviseCorrupt(ctx, Immutable, make([]byte, 16), 0, "bad hash")
	if !errkind.Is(err, errkind.Unreachable) || posts.Load() != 1 {
		t.Fatalf("POST: %v after %d attempts, want 1 attempt", err, posts.Load())
	}
}

func TestReadRanges(t *testing.T) {
	share := []byte("0123456789")
	_, n := startTLS(t, newCert(t), authed(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "" {
			w.Write(share)
			return
		}
		var a, b int
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b); err != nil {
			http.Error(w, "bad range", 416)
			return
		}
		if a >= len(share) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b = min(b, len(share)-1)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(share)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(share[a : b+1])
	}))
	c := New(n, nil)
	defer c.Close()
	ctx := ctxTimeout(t, 10*time.Second)
	for _, tc := range []struct {
		off, n int64
		want   string
	}{{0, 4, "0123"}, {8, 10, "89"}, {10, 5, ""}, {3, -1, "3456789"}, {0, 0, ""}} {
		got, err := c.ReadShare(ctx, Mutable, make([]byte, 16), 0, tc.off, tc.n)
		if err != nil || string(got) != tc.want {
			t.Errorf("read(%d, %d) = %q, %v; want %q", tc.off, tc.n, got, err, tc.want)
		}
	}
}

// TestReadShareInto: a range answer of the asked length lands in the
// caller's buffer itself; shorter answers, whole-share 200s and empty
// 204s are copied into it; a body cut short is an error, not a short read.
func TestReadShareInto(t *testing.T) {
	share := []byte("0123456789")
	_, n := startTLS(t, newCert(t), authed(func(w http.ResponseWriter, r *http.Request) {
		var a, b int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
		switch {
		case a == 7: // a server ignoring Range
			w.Write(share)
			return
		case a >= len(share):
			w.WriteHeader(http.StatusNoContent)
			return
		case a == 5: // declares more than it sends
			w.Header().Set("Content-Length", "4")
			w.Header().Set("Content-Range", "bytes 5-8/10")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(share[5:7])
			return
		}
		b = min(b, len(share)-1)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(share)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(share[a : b+1])
	}))
	c := New(n, &Options{Retries: -1})
	defer c.Close()
	ctx := ctxTimeout(t, 10*time.Second)
	for _, tc := range []struct {
		off, n int64
		want   string
	}{{0, 4, "0123"}, {8, 10, "89"}, {7, 10, "789"}, {10, 5, ""}} {
		buf := make([]byte, tc.n)
		got, err := c.ReadShareInto(ctx, Mutable, make([]byte, 16), 0, tc.off, buf)
		if err != nil || string(got) != tc.want {
			t.Errorf("read(%d, %d) = %q, %v; want %q", tc.off, tc.n, got, err, tc.want)
		}
		if len(got) > 0 && &got[0] != &buf[0] {
			t.Errorf("read(%d, %d) did not return the caller's buffer", tc.off, tc.n)
		}
	}
	if got, err := c.ReadShareInto(ctx, Mutable, make([]byte, 16), 0, 5, make([]byte, 4)); err == nil {
		t.Errorf("body cut short: read %q and no error", got)
	}
}

// TestHangingHandler: a server that completes TLS and reads the request
// but never answers must not hold a request past its deadline either.
func TestHangingHandler(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	// The handler ignores its request's context: returning when the
	// client gives up would send an answer the client could still read.
	_, n := startTLS(t, newCert(t), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	c := New(n, nil)
	defer c.Close()
	start := time.Now()
	_, err := c.ListShares(ctxTimeout(t, 300*time.Millisecond), Mutable, make([]byte, 16))
	if !errkind.Is(err, errkind.Unreachable) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

// TestConcurrentReadsReuseConnections: two bursts of more concurrent
// requests than Go's default idle pool holds open no new connections
// (so no new TLS handshakes) for the second burst.
func TestConcurrentReadsReuseConnections(t *testing.T) {
	const n = 24
	var conns atomic.Int32
	var mu sync.Mutex
	release := make(chan struct{})
	arrived := make(chan struct{}, n)
	srv := httptest.NewUnstartedServer(authed(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rel := release
		mu.Unlock()
		arrived <- struct{}{}
		select { // hold every request until all n are in flight
		case <-rel:
		case <-r.Context().Done():
			return
		}
		writeCBOR(t, w, []uint64{1})
	}))
	cert := newCert(t)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := New(nurl.New(cert.Leaf, []string{srv.Listener.Addr().String()}, testSwissnum), &Options{Retries: -1})
	defer c.Close()
	ctx := ctxTimeout(t, 20*time.Second)
	burst := func() {
		errs := make(chan error, n)
		for range n {
			go func() { _, err := c.ListShares(ctx, Mutable, make([]byte, 16)); errs <- err }()
		}
		for range n {
			select {
			case <-arrived:
			case <-ctx.Done():
				t.Fatal("requests did not all arrive")
			}
		}
		mu.Lock()
		close(release)
		release = make(chan struct{})
		mu.Unlock()
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	burst()
	first := conns.Load()
	burst()
	if first != n || conns.Load() != first {
		t.Fatalf("first burst of %d opened %d connections, second %d more; want %d and 0", n, first, conns.Load()-first, n)
	}
}

// TestRefusedInWords: a server that refuses connections is unreachable,
// said in words, without Go's request and dial wording.
func TestRefusedInWords(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, n := startTLS(t, newCert(t), http.NotFoundHandler())
	n.Hints = []string{addr}
	c := New(n, &Options{Retries: -1})
	defer c.Close()
	_, err = c.ListShares(ctxTimeout(t, 5*time.Second), Mutable, make([]byte, 16))
	if !errkind.Is(err, errkind.Unreachable) || !strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "dial tcp") || strings.Contains(err.Error(), `Get "`) {
		t.Fatalf("err %v", err)
	}
}

// Package storagetest runs tahoe-watch's storage server in tests and
// checks any Great Black Swamp server against the protocol with raw HTTP
// requests: status codes, headers, CBOR shapes (tag-258 sets included),
// TLS pinning and the swissnum and secret checks.
package storagetest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
)

// Start runs a storage server for baseDir on a loopback port until the
// test ends, and returns it with its NURL.
func Start(t testing.TB, baseDir string) (*storage.Server, *nurl.NURL) {
	t.Helper()
	srv, err := storage.NewServer(storage.Config{BaseDir: baseDir,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("storage server: %v", err)
		}
	})
	return srv, srv.NURLFor(ln.Addr().String())
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// Target is a server under test.
type Target struct {
	URL      string // https://host:port, no trailing slash
	Swissnum string
	SPKIHash string // the pinned SPKI hash
}

// TargetOf derives a Target from a NURL (its first location hint).
func TargetOf(n *nurl.NURL) Target {
	return Target{URL: "https://" + n.Hints[0], Swissnum: n.Swissnum, SPKIHash: n.SPKIHash}
}

// PinnedClient is an HTTP client that accepts only a server whose
// certificate has the given SPKI hash, as GBS clients do (no CA, no
// name check).
func PinnedClient(spkiHash string) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // verification is the SPKI pin below
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 {
					return errors.New("no server certificate")
				}
				c, err := x509.ParseCertificate(raw[0])
				if err != nil {
					return err
				}
				sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
				if base64.RawURLEncoding.EncodeToString(sum[:]) != spkiHash {
					return errors.New("server SPKI hash does not match the pin")
				}
				return nil
			},
		},
		MaxIdleConnsPerHost: 64,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

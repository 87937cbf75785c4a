package grid

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
)

// PinnedTLSConfig returns a TLS client configuration that accepts exactly
// the servers whose certificate's SubjectPublicKeyInfo hashes to spkiHash
// (unpadded base64url SHA-256, as in a NURL), and whose certificate carries
// a valid signature: by its own key when it is self-signed, else by the next
// certificate the server sent. Validity dates and certificate authorities
// are not checked, as the HTTP storage protocol specifies. A mismatch fails
// the handshake with a *PinError naming server.
func PinnedTLSConfig(spkiHash, server string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the SPKI pin below
		NextProtos:         []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPin(cs.PeerCertificates, spkiHash, server)
		},
	}
}

func verifyPin(certs []*x509.Certificate, want, server string) error {
	if len(certs) == 0 {
		return fmt.Errorf("server %s presented no certificate", server)
	}
	leaf := certs[0]
	got := nurl.SPKIHash(leaf)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &PinError{Server: server, Want: want, Got: got}
	}
	signer := leaf
	if len(certs) > 1 {
		signer = certs[1]
	}
	if err := signer.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		return fmt.Errorf("server %s: certificate signature is invalid: %w", server, err)
	}
	return nil
}

// hintDialer opens pinned TLS connections to the first of several location
// hints that answers. Hints are tried in order, each started stagger after
// the previous one unless that one has already failed (a simple form of
// "happy eyeballs"); the hint that last worked is tried first.
type hintDialer struct {
	hints   []string
	config  *tls.Config
	stagger time.Duration
	dialer  net.Dialer

	mu   sync.Mutex
	good string // the hint that last connected
}

type dialResult struct {
	conn net.Conn
	err  error
}

// DialTLSContext dials the hints; addr (the URL's host) is ignored.
func (d *hintDialer) DialTLSContext(ctx context.Context, _, _ string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hints := d.order()
	results := make(chan dialResult, len(hints))
	timer := time.NewTimer(d.stagger)
	defer timer.Stop()
	var errs []error
	pending, next := 0, 0
	launch := func() {
		go d.dialOne(ctx, hints[next], results)
		next++
		pending++
		timer.Reset(d.stagger)
	}
	launch()
	for pending > 0 {
		var tick <-chan time.Time
		if next < len(hints) {
			tick = timer.C
		}
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				go drain(results, pending)
				return r.conn, nil
			}
			errs = append(errs, r.err)
			if next < len(hints) {
				launch()
			}
		case <-tick:
			launch()
		case <-ctx.Done():
			go drain(results, pending)
			return nil, ctx.Err()
		}
	}
	return nil, joinDialErrors(errs)
}

func drain(results chan dialResult, n int) {
	for ; n > 0; n-- {
		if r := <-results; r.conn != nil {
			r.conn.Close()
		}
	}
}

func (d *hintDialer) order() []string {
	d.mu.Lock()
	good := d.good
	d.mu.Unlock()
	hints := []string{}
	if good != "" {
		hints = append(hints, good)
	}
	for _, h := range d.hints {
		if h != good {
			hints = append(hints, h)
		}
	}
	return hints
}

func (d *hintDialer) dialOne(ctx context.Context, hint string, out chan<- dialResult) {
	raw, err := d.dialer.DialContext(ctx, "tcp", hint)
	if err != nil {
		out <- dialResult{err: err}
		return
	}
	cfg := d.config.Clone()
	if host, _, err := net.SplitHostPort(hint); err == nil && net.ParseIP(host) == nil {
		cfg.ServerName = host
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		out <- dialResult{err: fmt.Errorf("%s: %w", hint, err)}
		return
	}
	d.mu.Lock()
	d.good = hint
	d.mu.Unlock()
	out <- dialResult{conn: conn}
}

// joinDialErrors prefers a pin mismatch, which is the most useful to report.
func joinDialErrors(errs []error) error {
	for _, err := range errs {
		var pin *PinError
		if errors.As(err, &pin) {
			return err
		}
	}
	return errors.Join(errs...)
}

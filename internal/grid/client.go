package grid

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// cborType is the media type of CBOR bodies.
const cborType = "application/cbor"

// maxCBORBody bounds the CBOR answers we read; the largest legitimate one
// (read-test-write data) is far smaller.
const maxCBORBody = 16 << 20

// maxErrorBody bounds what we read of an error response.
const maxErrorBody = 4096

// maxIdlePerServer is how many idle connections a client keeps to its
// server. A watcher verifies many versions at once against each server;
// keeping fewer idle connections than it has requests in flight makes
// every burst open (and TLS-handshake) new ones. The number of open
// connections is not capped: requests never wait for a free one.
const maxIdlePerServer = 64

// Options tune a Client. The zero value is usable.
type Options struct {
	Name    string        // how messages name the server; default: the redacted NURL
	Retries int           // extra attempts for idempotent reads; default 2, negative for none
	Backoff time.Duration // delay before the first retry, doubling after; default 200ms
	Stagger time.Duration // delay before trying the next location hint; default 250ms
}

// Client speaks the HTTP storage protocol to one storage server. It is safe
// for concurrent use and keeps connections alive between requests; Close
// releases them.
type Client struct {
	nurl    *nurl.NURL
	name    string
	base    string
	tls     *tls.Config
	hc      *http.Client
	tr      *http.Transport
	retries int
	backoff time.Duration
}

// New returns a client for the server n names. It does not connect yet.
func New(n *nurl.NURL, o *Options) *Client {
	if o == nil {
		o = &Options{}
	}
	c := &Client{nurl: n, name: o.Name, retries: o.Retries, backoff: o.Backoff}
	if c.name == "" {
		c.name = n.Redacted()
	}
	if c.retries == 0 {
		c.retries = 2
	}
	if c.backoff <= 0 {
		c.backoff = 200 * time.Millisecond
	}
	stagger := o.Stagger
	if stagger <= 0 {
		stagger = 250 * time.Millisecond
	}
	c.tls = PinnedTLSConfig(n.SPKIHash, c.name)
	d := &hintDialer{hints: n.Hints, config: c.tls, stagger: stagger}
	c.tr = &http.Transport{
		DialTLSContext:      d.DialTLSContext,
		TLSClientConfig:     c.tls,
		MaxIdleConnsPerHost: maxIdlePerServer,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 30 * time.Second,
	}
	c.hc = &http.Client{Transport: c.tr}
	c.base = "https://" + n.Hints[0]
	return c
}

// NURL returns the NURL the client was built from.
func (c *Client) NURL() *nurl.NURL { return c.nurl }

// Name returns how messages name the server.
func (c *Client) Name() string { return c.name }

// Close closes idle connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// HTTPClient returns the client's *http.Client, whose transport dials the
// NURL's hints with the SPKI pin. Use it for other endpoints of the same
// server (for example a WebSocket, with AuthHeader); requests need not
// name the right host, as the transport ignores it.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// TLSConfig returns a copy of the pinned TLS configuration.
func (c *Client) TLSConfig() *tls.Config { return c.tls.Clone() }

// AuthHeader returns a header carrying the swissnum credential.
func (c *Client) AuthHeader() http.Header {
	h := http.Header{}
	h.Set("Authorization", "Tahoe-LAFS "+base64.StdEncoding.EncodeToString([]byte(c.nurl.Swissnum)))
	return h
}

// URL returns the absolute URL of path on this server.
func (c *Client) URL(path string) string { return c.base + path }

// Secrets are the per-request secrets sent in X-Tahoe-Authorization
// headers. Nil fields are not sent.
type Secrets struct {
	LeaseRenew   []byte // lease-renew-secret, 32 bytes
	LeaseCancel  []byte // lease-cancel-secret, 32 bytes
	Upload       []byte // upload-secret
	WriteEnabler []byte // write-enabler, 32 bytes
}

func (s *Secrets) addTo(h http.Header) {
	if s == nil {
		return
	}
	for _, kv := range []struct {
		name string
		val  []byte
	}{{"lease-renew-secret", s.LeaseRenew}, {"lease-cancel-secret", s.LeaseCancel},
		{"upload-secret", s.Upload}, {"write-enabler", s.WriteEnabler}} {
		if kv.val != nil {
			h.Add("X-Tahoe-Authorization", kv.name+" "+base64.StdEncoding.EncodeToString(kv.val))
		}
	}
}

// call is one protocol request.
type call struct {
	op, method, path string
	secrets          *Secrets
	msg              any      // CBOR-encoded into the body when non-nil
	raw              []byte   // sent as application/octet-stream when msg is nil
	parts            [][]byte // a CBOR body already encoded, in pieces sent in order
	partsLen         int64
	header           http.Header
	idempotent       bool
	maxBody          int64
	into             []byte // a 2xx body of exactly len(into) bytes is read into it
}

// reply is the part of a response the endpoints look at.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

func siPath(kind string, si []byte, rest ...string) string {
	p := "/storage/v1/" + kind + "/" + base32.Encode(si)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// do sends the call, retrying idempotent ones after transient failures.
func (c *Client) do(ctx context.Context, k call) (*reply, error) {
	body := k.raw
	if k.msg != nil {
		b, err := encMode.Marshal(k.msg)
		if err != nil {
			return nil, errkind.E(k.op, errkind.Other, err)
		}
		body = b
	}
	attempts := 1
	if k.idempotent && c.retries > 0 {
		attempts += c.retries
	}
	delay := c.backoff
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if werr := sleep(ctx, delay); werr != nil {
				break
			}
			delay *= 2
		}
		var r *reply
		r, err = c.once(ctx, k, body)
		if err == nil && r.code >= 500 && k.idempotent && i+1 < attempts {
			err = c.statusError(k, r)
			continue
		}
		if err == nil {
			return r, nil
		}
		if !retryable(err) {
			break
		}
	}
	return nil, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) once(ctx context.Context, k call, body []byte) (*reply, error) {
	var rd io.Reader = bytes.NewReader(body)
	if k.parts != nil {
		bufs := net.Buffers(slices.Clone(k.parts))
		rd = &bufs
	}
	req, err := http.NewRequestWithContext(ctx, k.method, c.URL(k.path), rd)
	if err != nil {
		return nil, errkind.E(k.op, errkind.Other, err)
	}
	if k.parts != nil {
		req.ContentLength = k.partsLen
	}
	for name, vals := range k.header {
		req.Header[name] = vals
	}
	req.Header.Set("Authorization", c.AuthHeader().Get("Authorization"))
	req.Header.Set("Accept", cborType)
	k.secrets.addTo(req.Header)
	switch {
	case k.msg != nil, k.parts != nil:
		req.Header.Set("Content-Type", cborType)
	case body != nil:
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(k.op, c.name, err)
	}
	defer resp.Body.Close()
	max := k.maxBody
	if max <= 0 {
		max = maxCBORBody
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		max = maxErrorBody // only the start of an error body is reported
	}
	into := k.into
	if !ok {
		into = nil
	}
	b, err := readBody(resp, max, into)
	if err != nil {
		return nil, transportError(k.op, c.name, err)
	}
	if !ok && int64(len(b)) > max {
		b = b[:max]
	} else if int64(len(b)) > max {
		return nil, errkind.E(k.op, errkind.Invalid, "server %s sent more than %d bytes for %s %s", c.name, max, k.method, k.path)
	}
	return &reply{code: resp.StatusCode, header: resp.Header, body: b}, nil
}

// readBody reads at most max+1 bytes of a response body: a body of known
// length within max into a buffer that never exceeds that length (and
// grows, doubling from 1 MiB, only as bytes arrive, so a server that
// declares much and sends little costs little), any other with a growing
// one. A body of exactly len(into) bytes is read into into instead.
func readBody(resp *http.Response, max int64, into []byte) ([]byte, error) {
	n := resp.ContentLength
	if into != nil && n == int64(len(into)) && n <= max {
		if _, err := io.ReadFull(resp.Body, into); err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		} else if err != nil {
			return nil, err
		}
		return into, nil
	}
	if n < 0 || n > max {
		return io.ReadAll(io.LimitReader(resp.Body, max+1))
	}
	buf := make([]byte, 0, min(n, 1<<20))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), n-int64(len(buf)))))
		}
		m, err := resp.Body.Read(buf[len(buf):min(int64(cap(buf)), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF && int64(len(buf)) < n {
			return nil, io.ErrUnexpectedEOF
		} else if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return buf, nil
}

// statusError builds the error for an unexpected status.
func (c *Client) statusError(k call, r *reply) error {
	se := &StatusError{Server: c.name, Method: k.method, Path: k.path, Code: r.code, Body: printable(r.body, 200)}
	return errkind.E(k.op, se.Kind(), se)
}

// printable returns the start of b with anything unprintable replaced.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '.'
	}, string(b))
}

// doCBOR sends the call, requires status want and decodes the CBOR body into v.
func (c *Client) doCBOR(ctx context.Context, k call, want int, v any) error {
	r, err := c.do(ctx, k)
	if err != nil {
		return err
	}
	if r.code != want {
		return c.statusError(k, r)
	}
	return c.decode(k, r, v)
}

func (c *Client) decode(k call, r *reply, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != cborType {
		return errkind.E(k.op, errkind.Invalid, "server %s answered %s %s with Content-Type %q, not CBOR",
			c.name, k.method, k.path, r.header.Get("Content-Type"))
	}
	var err error
	if f, ok := v.(func([]byte) error); ok {
		err = f(r.body)
	} else {
		err = decodeCBOR(r.body, v)
	}
	if err != nil {
		return errkind.E(k.op, errkind.Invalid, "server %s sent a malformed answer to %s %s: %w", c.name, k.method, k.path, err)
	}
	return nil
}

// expect sends the call and requires one of the given statuses.
func (c *Client) expect(ctx context.Context, k call, codes ...int) (*reply, error) {
	r, err := c.do(ctx, k)
	if err != nil {
		return nil, err
	}
	for _, code := range codes {
		if r.code == code {
			return r, nil
		}
	}
	return nil, c.statusError(k, r)
}

// errUnexpected is returned for answers that break the protocol.
var errUnexpected = errors.New("unexpected answer")

func invalid(op, server, format string, args ...any) error {
	return errkind.E(op, errkind.Invalid, "server %s: %w: %s", server, errUnexpected, fmt.Sprintf(format, args...))
}

package watchproto

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
)

// DefaultKeepAlive is how often each end pings the other.
const DefaultKeepAlive = 30 * time.Second

// DialOptions configure a client connection.
type DialOptions struct {
	// HTTPClient dials the server; its transport must pin the server's
	// SPKI hash (see internal/grid). Required.
	HTTPClient *http.Client
	Swissnum   string        // the server's swissnum, sent as GBS authorization
	KeepAlive  time.Duration // ping interval; 0 means DefaultKeepAlive, <0 none
	// MaxReplySize bounds one server message; 0 means DefaultMaxReplySize.
	MaxReplySize int64
	// NoticeBuffer is the capacity of Notices(); 0 means 1024. When it is
	// full the connection stops reading, and the server eventually closes
	// it with CloseOverflow.
	NoticeBuffer int
	Logger       *slog.Logger
}

// Conn is a client connection to one server's watch endpoint. Its methods
// may be called concurrently.
type Conn struct {
	ws      *websocket.Conn
	log     *slog.Logger
	nextID  atomic.Uint64
	notices chan Notice
	cancel  context.CancelFunc // ends the goroutines; closes the socket under a pending Read
	wg      sync.WaitGroup
	done    chan struct{}

	stop     chan struct{} // closed when Close starts
	stopOnce sync.Once

	mu      sync.Mutex
	pending map[uint64]chan Message
	err     error
}

// AuthHeader is the GBS Authorization header value for swissnum.
func AuthHeader(swissnum string) string {
	return "Tahoe-LAFS " + base64.StdEncoding.EncodeToString([]byte(swissnum))
}

// URL returns the watch endpoint's wss URL for a NURL's first hint.
func URL(n *nurl.NURL) string {
	if len(n.Hints) == 0 {
		return ""
	}
	return "wss://" + n.Hints[0] + Path
}

// DialNURL dials the watch endpoint named by n, pinning its SPKI hash with
// tlsConf (which must verify it) and authorizing with its swissnum.
func DialNURL(ctx context.Context, n *nurl.NURL, tlsConf *tls.Config, opts DialOptions) (*Conn, error) {
	opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	opts.Swissnum = n.Swissnum
	return Dial(ctx, URL(n), opts)
}

// Dial opens a connection to the watch endpoint at url
// (wss://host:port/storage/v1/watch). A failed handshake is a
// *HandshakeError carrying the server's HTTP status; see Unsupported.
func Dial(ctx context.Context, url string, opts DialOptions) (*Conn, error) {
	const op = "watchproto.Dial"
	h := http.Header{}
	h.Set("Authorization", AuthHeader(opts.Swissnum))
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:   opts.HTTPClient,
		HTTPHeader:   h,
		Subprotocols: []string{Subprotocol},
	})
	if err != nil {
		return nil, handshakeError(op, resp, err)
	}
	if ws.Subprotocol() != Subprotocol {
		ws.Close(CloseProtocolError, "subprotocol")
		return nil, errkind.E(op, errkind.Invalid, "server did not accept subprotocol %s", Subprotocol)
	}
	return newConn(ws, opts), nil
}

func newConn(ws *websocket.Conn, opts DialOptions) *Conn {
	if opts.MaxReplySize == 0 {
		opts.MaxReplySize = DefaultMaxReplySize
	}
	if opts.NoticeBuffer == 0 {
		opts.NoticeBuffer = 1024
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ws.SetReadLimit(opts.MaxReplySize)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{ws: ws, log: opts.Logger, cancel: cancel, done: make(chan struct{}), stop: make(chan struct{}),
		notices: make(chan Notice, opts.NoticeBuffer), pending: map[uint64]chan Message{}}
	c.wg.Add(1)
	go c.readLoop(ctx)
	if opts.KeepAlive > 0 {
		c.wg.Add(1)
		go c.keepAlive(ctx, opts.KeepAlive)
	}
	return c
}

// Notices delivers change notices. It is closed when the connection ends;
// then Err says why.
func (c *Conn) Notices() <-chan Notice { return c.notices }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open. See
// NeedsResync.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// NeedsResync reports whether err (from Err) means notices may have been
// lost, so that the client should reconnect, resubscribe and re-read.
func NeedsResync(err error) bool {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, CloseProtocolError, websocket.StatusMessageTooBig:
		return false
	}
	return err != nil
}

// Subscribe subscribes to subs, in batches of DefaultMaxSubsPerMessage,
// and returns one Result per Sub, in order.
func (c *Conn) Subscribe(ctx context.Context, subs []Sub) ([]Result, error) {
	out := make([]Result, 0, len(subs))
	for len(subs) > 0 {
		n := min(len(subs), DefaultMaxSubsPerMessage)
		id := c.nextID.Add(1)
		m, err := c.roundTrip(ctx, id, &Subscribe{ID: id, Subs: subs[:n]})
		if err != nil {
			return nil, err
		}
		r, ok := m.(*Subscribed)
		if !ok || len(r.Results) != n {
			return nil, c.fail(errkind.E("watchproto.Subscribe", errkind.Invalid, "reply does not match request"))
		}
		out = append(out, r.Results...)
		subs = subs[n:]
	}
	return out, nil
}

// Unsubscribe stops watching the storage indexes sis.
func (c *Conn) Unsubscribe(ctx context.Context, sis [][]byte) error {
	for len(sis) > 0 {
		n := min(len(sis), DefaultMaxSubsPerMessage)
		id := c.nextID.Add(1)
		if _, err := c.roundTrip(ctx, id, &Unsubscribe{ID: id, SIs: sis[:n]}); err != nil {
			return err
		}
		sis = sis[n:]
	}
	return nil
}

// closeTimeout bounds Close's wait for the server's half of the close
// handshake; after it the connection is dropped.
const closeTimeout = time.Second

// Close ends the connection normally and waits for its goroutines. It
// takes at most about a second: if the server does not answer the close
// handshake by then (it vanished, or its network did), the connection is
// dropped and Close reports that. Undelivered notices are discarded.
func (c *Conn) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	// Cancelling the read loop's context closes the socket under a
	// pending Read, which usually ends the handshake's wait too; but the
	// library may still sit in its own 5 s close timeout, so Close stops
	// waiting for it after closeTimeout and lets it end in the background.
	closed := make(chan error, 1)
	go func() { closed <- c.ws.Close(websocket.StatusNormalClosure, "") }()
	var err error
	forced := false
	select {
	case err = <-closed:
	case <-time.After(closeTimeout):
		forced = true
	}
	c.cancel()
	c.wg.Wait()
	switch {
	case forced:
		return errkind.E("watchproto.Close", errkind.Unreachable, "server did not answer the close handshake within %v", closeTimeout)
	case errors.Is(err, net.ErrClosed):
		return nil
	}
	return err
}

func (c *Conn) roundTrip(ctx context.Context, id uint64, m Message) (Message, error) {
	const op = "watchproto.Conn"
	b, err := Encode(m)
	if err != nil {
		return nil, err
	}
	ch := make(chan Message, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		return nil, errkind.E(op, errkind.Unreachable, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Conn) readLoop(ctx context.Context) {
	defer c.wg.Done()
	defer close(c.done)
	defer close(c.notices)
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			c.fail(errkind.E("watchproto.Conn", errkind.Unreachable, err))
			return
		}
		if typ != websocket.MessageBinary {
			c.protocolError("text frame")
			return
		}
		m, err := DecodeReply(b)
		if err != nil {
			c.protocolError(err.Error())
			return
		}
		if !c.dispatch(ctx, m) {
			return
		}
	}
}

func (c *Conn) dispatch(ctx context.Context, m Message) bool {
	var id uint64
	switch m := m.(type) {
	case *Notice:
		select {
		case c.notices <- *m:
			return true
		case <-c.stop: // closing: keep reading so the handshake can finish
			return true
		case <-ctx.Done():
			return false
		}
	case *Subscribed:
		id = m.ID
	case *Unsubscribed:
		id = m.ID
	}
	c.mu.Lock()
	ch := c.pending[id]
	c.mu.Unlock()
	if ch != nil {
		ch <- m // buffered, one reply per id
	}
	return true
}

func (c *Conn) protocolError(why string) {
	c.log.Warn("watch: server sent a bad message", "err", why)
	c.fail(errkind.E("watchproto.Conn", errkind.Invalid, "bad message from server: %s", why))
	c.ws.Close(CloseProtocolError, "bad message")
}

func (c *Conn) keepAlive(ctx context.Context, every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := c.ws.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.fail(errkind.E("watchproto.Conn", errkind.Unreachable, "keepalive: %v", err))
			c.ws.CloseNow() // the server is presumed dead; do not wait for its handshake
			return
		}
	}
}

// fail records the first reason the connection ended and returns it.
func (c *Conn) fail(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	return c.err
}

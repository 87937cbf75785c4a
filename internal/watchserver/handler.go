package watchserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// Handler serves the watch endpoint for a Hub.
type Handler struct {
	hub  *Hub
	auth string // expected Authorization header
}

// NewHandler returns the WebSocket handler for hub, authorising clients
// that present swissnum the GBS way.
func NewHandler(hub *Hub, swissnum string) *Handler {
	return &Handler{hub: hub, auth: watchproto.AuthHeader(swissnum)}
}

// Mount registers h on mux at watchproto.Path.
func Mount(mux *http.ServeMux, h *Handler) { mux.Handle(watchproto.Path, h) }

// ServeHTTP checks authorization and subprotocol before upgrading, then
// runs the connection until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got := r.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(got), []byte(h.auth)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if !offers(r, watchproto.Subprotocol) {
		http.Error(w, "subprotocol "+watchproto.Subprotocol+" required", http.StatusBadRequest)
		return
	}
	key := clientKey(r.RemoteAddr)
	cl, limit := h.hub.admit(key)
	if limit != "" {
		h.refuseConn(w, cl, key, limit)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{watchproto.Subprotocol}})
	if err != nil {
		h.hub.release(cl)
		return // Accept has answered the client
	}
	h.serve(r.Context(), ws, cl)
}

// refuseConn answers a connection over a limit: 429 when the client has
// too many, 503 when the server has; the client falls back to polling.
func (h *Handler) refuseConn(w http.ResponseWriter, cl *client, key, limit string) {
	h.hub.refused(cl, key, "connection", limit)
	w.Header().Set("Retry-After", "60")
	if limit == limitPerClient {
		http.Error(w, "too many watch connections from your address", http.StatusTooManyRequests)
		return
	}
	http.Error(w, "server has too many watch connections", http.StatusServiceUnavailable)
}

func offers(r *http.Request, proto string) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(p) == proto {
				return true
			}
		}
	}
	return false
}

// conn is one served connection.
type conn struct {
	hub  *Hub
	ws   *websocket.Conn
	s    *session
	rate *limiter // the client's, shared by its connections
}

func (h *Handler) serve(ctx context.Context, ws *websocket.Conn, cl *client) {
	o := h.hub.opts
	ws.SetReadLimit(o.MaxMessageSize)
	s := newSession(o.MaxPending)
	s.client = cl
	c := &conn{hub: h.hub, ws: ws, s: s, rate: cl.rate}
	h.hub.open(c.s)
	defer h.hub.close(c.s)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.writeLoop(ctx) })
	wg.Go(func() { c.closeOnOverflow(ctx) })
	if o.KeepAlive > 0 {
		wg.Go(func() { c.keepAlive(ctx, o.KeepAlive) })
	}
	c.readLoop(ctx)
	cancel()
	wg.Wait()
	ws.CloseNow()
}

func (c *conn) readLoop(ctx context.Context) {
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			return // closed, too big (already answered 1009) or gone
		}
		if typ != websocket.MessageBinary {
			c.ws.Close(watchproto.CloseProtocolError, "binary frames only")
			return
		}
		m, err := watchproto.DecodeRequest(b, c.hub.opts.MaxSubsPerMessage)
		if err != nil {
			c.hub.opts.Logger.Debug("watch: bad client message", "err", err)
			c.ws.Close(watchproto.CloseProtocolError, "malformed message")
			return
		}
		if err := c.handle(ctx, m); err != nil {
			return
		}
	}
}

func (c *conn) handle(ctx context.Context, m watchproto.Message) error {
	switch m := m.(type) {
	case *watchproto.Subscribe:
		if err := c.rate.wait(ctx, len(m.Subs)); err != nil {
			return err
		}
		c.s.hold()
		res := make([]watchproto.Result, len(m.Subs))
		for i, sub := range m.Subs {
			res[i] = c.hub.subscribe(ctx, c.s, sub)
		}
		b, err := watchproto.Encode(&watchproto.Subscribed{ID: m.ID, Results: res})
		c.s.release(b)
		return err
	case *watchproto.Unsubscribe:
		for _, si := range m.SIs {
			c.hub.unsubscribe(c.s, si)
		}
		b, err := watchproto.Encode(&watchproto.Unsubscribed{ID: m.ID})
		c.s.queueReply(b)
		return err
	}
	return errors.New("unreachable")
}

// writeLoop sends queued replies and notices until ctx ends or the
// client falls so far behind that notices were lost.
func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.s.wake:
		}
		replies, notices, overflow := c.s.take()
		if overflow {
			return // closeOnOverflow closes the connection
		}
		for _, b := range replies {
			if !c.write(ctx, b) {
				return
			}
		}
		for _, q := range notices {
			if !c.write(ctx, q.b) {
				return
			}
			c.hub.opts.Metrics.NoticeSent(q.at)
		}
	}
}

// closeOnOverflow closes the connection with CloseOverflow once notices
// have been lost (or Hub.Resync says they may have been). It runs apart from writeLoop, which may be blocked
// writing to the slow client.
func (c *conn) closeOnOverflow(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-c.s.lost:
		if c.s.forced() {
			c.ws.Close(watchproto.CloseOverflow, "server lost track of changes; resubscribe")
			return
		}
		c.hub.opts.Logger.Debug("watch: client too slow; closing")
		c.hub.opts.Metrics.SlowConsumerDropped()
		c.ws.Close(watchproto.CloseOverflow, "too many undelivered notices; resubscribe")
	}
}

func (c *conn) write(ctx context.Context, b []byte) bool {
	timeout := c.hub.opts.KeepAlive
	if timeout <= 0 {
		timeout = watchproto.DefaultKeepAlive
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.ws.Write(wctx, websocket.MessageBinary, b) == nil
}

func (c *conn) keepAlive(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := c.ws.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				// The peer is presumed dead: a close handshake would only
				// wait for it, so drop the connection.
				c.hub.opts.Logger.Debug("watch: client stopped answering pings", "err", err)
				c.ws.CloseNow()
			}
			return
		}
	}
}

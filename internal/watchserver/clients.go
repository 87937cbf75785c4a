package watchserver

import (
	"net"
	"net/netip"
	"time"
)

// Names of the limits, for logs and the refusals metric.
const (
	limitPerConn   = "per-connection"
	limitPerClient = "per-client"
	limitTotal     = "total"
)

// warnEvery is how often at most one client's refusals are logged at
// WARN; the refusals metric counts every one.
const warnEvery = time.Minute

// client is what the hub accounts to one source address: its
// connections, its subscriptions over all of them, and one subscribe
// rate limiter they share, so that opening more connections buys a
// client neither more subscriptions nor a faster rate.
type client struct {
	key    string
	conns  int // guarded by Hub.mu
	subs   int // guarded by Hub.mu
	rate   *limiter
	warned time.Time // last WARN about this client; guarded by Hub.mu
}

// clientTable is the hub's clients by key; guarded by Hub.mu. A client
// without connections stays until its rate limiter has refilled, so
// reconnecting never buys a fresh burst.
type clientTable struct {
	byKey     map[string]*client
	conns     int
	lastSweep time.Time
	warned    time.Time // last WARN about a refusal not charged to a known client
}

// clientKey names the client at remoteAddr ("ip:port"): the IPv4
// address, or the /64 of an IPv6 address (one host commonly holds a
// whole /64). An unparseable address is its own key.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}

// admit accounts a new connection to the client with key, or names the
// limit that refuses it.
func (h *Hub) admit(key string) (*client, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := &h.clients
	h.sweepLocked(time.Now())
	c := t.byKey[key]
	switch {
	case c != nil && c.conns >= h.opts.MaxConnsPerClient:
		return c, limitPerClient
	case t.conns >= h.opts.MaxConns:
		return c, limitTotal
	}
	if c == nil {
		c = &client{key: key, rate: newLimiter(h.opts.SubscribeRate, h.opts.SubscribeBurst)}
		t.byKey[key] = c
	}
	c.conns++
	t.conns++
	return c, ""
}

// release gives back a connection admit accounted.
func (h *Hub) release(c *client) {
	if c == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.conns--
	h.clients.conns--
}

// sweepLocked forgets, at most once a second, the clients that have no
// connection and whose rate limiter is full again.
func (h *Hub) sweepLocked(now time.Time) {
	t := &h.clients
	if now.Sub(t.lastSweep) < time.Second {
		return
	}
	t.lastSweep = now
	for k, c := range t.byKey {
		if c.conns == 0 && c.rate.full(now) {
			delete(t.byKey, k)
		}
	}
}

// refused records a refusal of what ("connection", "subscription") from
// client key by limit: always in the metrics, at WARN at most once a
// minute per client, naming it.
func (h *Hub) refused(c *client, key, what, limit string) {
	h.opts.Metrics.Refused(what, limit)
	h.mu.Lock()
	now, last := time.Now(), &h.clients.warned
	if c != nil {
		last = &c.warned
	}
	warn := now.Sub(*last) >= warnEvery
	if warn {
		*last = now
	}
	h.mu.Unlock()
	if warn {
		h.opts.Logger.Warn("watch: refused "+what+": limit reached", "client", key, "limit", limit,
			"max_conns_per_client", h.opts.MaxConnsPerClient, "max_subs_per_client", h.opts.MaxSubsPerClient)
	}
}

// refusedSub records a subscription of s refused by limit.
func (h *Hub) refusedSub(s *session, limit string) {
	key := ""
	if s.client != nil {
		key = s.client.key
	}
	h.refused(s.client, key, "subscription", limit)
}

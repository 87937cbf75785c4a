package watchserver

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/metrics"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// The default limits (docs/watch-protocol.md, "Limits"). A client is a
// source address: an IPv4 address, or an IPv6 /64. They are sized so
// that one client watching 100,000 mutables on one connection is never
// throttled or refused, even while it replaces that connection by a new
// one (the watcher subscribes the new connection before closing the
// old), and so that 100 clients of 10,000 share a server untouched by
// one greedy client at its limits (at about 0.4 KB a subscription, the
// server-wide table is bounded near 500 MB).
const (
	DefaultMaxConns          = 10_000    // watch connections on the server
	DefaultMaxConnsPerClient = 64        // watch connections from one client
	DefaultMaxSubsPerConn    = 100_000   // subscriptions on one connection
	DefaultMaxSubsPerClient  = 200_000   // subscriptions from one client, all its connections: two full connections
	DefaultMaxSubsTotal      = 1_200_000 // subscriptions on the server: 100 clients of 10,000 and one greedy client at its limit
	DefaultSubscribeRate     = 5_000     // subscriptions per second per client, once the burst is spent
	DefaultSubscribeBurst    = 200_000   // subscriptions a client may make at once: its whole table
	DefaultMaxPending        = 4_096     // undelivered notices per connection
)

// Options are a Hub's limits; zero values take the documented defaults.
type Options struct {
	MaxConns          int           // watch connections on the server (DefaultMaxConns)
	MaxConnsPerClient int           // watch connections from one client (DefaultMaxConnsPerClient)
	MaxSubsPerConn    int           // subscriptions on one connection (DefaultMaxSubsPerConn)
	MaxSubsPerClient  int           // subscriptions from one client (DefaultMaxSubsPerClient)
	MaxSubsTotal      int           // subscriptions on the server (DefaultMaxSubsTotal)
	MaxMessageSize    int64         // bytes in one client message (1 MiB)
	MaxSubsPerMessage int           // entries in one subscribe (1,000)
	SubscribeRate     float64       // subscriptions per second per client (DefaultSubscribeRate)
	SubscribeBurst    int           // token bucket size per client (DefaultSubscribeBurst)
	MaxPending        int           // undelivered notices per connection (DefaultMaxPending)
	KeepAlive         time.Duration // ping interval (30 s); <0 disables
	Logger            *slog.Logger
	// Watcher, if set, is told when a storage index gains its first
	// subscriber (before its shares are read) and loses its last one.
	Watcher Watcher
	// Metrics, if set, records connections, subscriptions, notices sent
	// with their latency from Notify, and slow consumers dropped.
	Metrics *metrics.Server
}

// Watcher starts and stops watching a storage index for changes, for
// sources (like the notifier sidecar) that must ask to be told.
type Watcher interface {
	Watch(si []byte) error
	Unwatch(si []byte)
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxConns, DefaultMaxConns)
	def(&o.MaxConnsPerClient, DefaultMaxConnsPerClient)
	def(&o.MaxSubsPerConn, DefaultMaxSubsPerConn)
	def(&o.MaxSubsPerClient, DefaultMaxSubsPerClient)
	def(&o.MaxSubsTotal, DefaultMaxSubsTotal)
	def(&o.MaxSubsPerMessage, watchproto.DefaultMaxSubsPerMessage)
	def(&o.SubscribeBurst, DefaultSubscribeBurst)
	def(&o.MaxPending, DefaultMaxPending)
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = watchproto.DefaultMaxRequestSize
	}
	if o.SubscribeRate <= 0 {
		o.SubscribeRate = DefaultSubscribeRate
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = watchproto.DefaultKeepAlive
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

type siKey [watchproto.SILen]byte

type shareKey struct {
	si    siKey
	shnum int
}

// version is what a subscription last told its client about one share.
type version struct {
	shnum int
	seq   uint64
	root  [32]byte
}

// sub is one connection's subscription to one storage index: what it
// last told its client about each share, sorted by share number. A
// server holds a few shares of an index (at most 256), so a slice is
// both smaller and faster than a map.
type sub struct {
	known []version
}

// Hub keeps every connection's subscriptions and turns Notify calls into
// notices. It is safe for concurrent use.
type Hub struct {
	src  ShareSource
	opts Options

	// stripes serialise reading a storage index's shares with registering
	// or notifying its subscriptions, so nothing changes unseen between
	// a subscriber's read and its registration.
	stripes [256]sync.Mutex

	mu       sync.Mutex // guards bySI, total, sessions, clients and every session's subs
	bySI     map[siKey]map[*session]*sub
	total    int
	sessions map[*session]struct{}
	clients  clientTable
}

// NewHub returns a Hub reading shares from src.
func NewHub(src ShareSource, opts Options) *Hub {
	h := &Hub{src: src, opts: opts.withDefaults(), bySI: map[siKey]map[*session]*sub{}, sessions: map[*session]struct{}{}}
	h.clients = clientTable{byKey: map[string]*client{}}
	return h
}

// Stats reports the number of open connections and subscriptions.
func (h *Hub) Stats() (conns, subs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions), h.total
}

// Resync closes every connection with watchproto.CloseOverflow, telling
// each client to resubscribe and re-read: for when the hub's source may
// have missed changes (the sidecar's inotify queue overflowed).
func (h *Hub) Resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.sessions {
		s.forceResync()
	}
}

// Notify tells the hub that a write to share shnum of storage index si is
// durable (or that the share was deleted). It re-reads the index's shares
// and queues a notice for every subscription whose view of a share is now
// out of date. It costs one map lookup when nobody watches si.
func (h *Hub) Notify(ctx context.Context, si []byte, shnum int) {
	if len(si) != watchproto.SILen {
		return
	}
	at := time.Now()
	k := siKey(si)
	stripe := &h.stripes[k[0]]
	stripe.Lock()
	defer stripe.Unlock()
	h.mu.Lock()
	n := len(h.bySI[k])
	h.mu.Unlock()
	if n == 0 {
		return
	}
	states, err := h.src.MutableShares(ctx, si)
	if err != nil {
		h.opts.Logger.Warn("watch: cannot read shares to notify", "si", k, "shnum", shnum, "err", err)
		return
	}
	slices.SortFunc(states, byShnum)
	h.mu.Lock()
	defer h.mu.Unlock()
	enc := noticeCache{si: k}
	for s, sb := range h.bySI[k] {
		sb.diff(states, func(v version, deleted bool) {
			if b := enc.encode(v, deleted); b != nil {
				s.queueNotice(shareKey{k, v.shnum}, b, at)
			}
		})
	}
}

// noticeCache encodes each notice of one Notify once, however many
// subscriptions it goes to (one change watched by 1,000 connections is
// one encoding, not 1,000). Within one Notify a share has one new state
// (or is deleted), so the share number is the key.
type noticeCache struct {
	si   siKey
	done map[int][]byte
}

// encode returns the wire form of the notice of v (or of its deletion).
func (c *noticeCache) encode(v version, deleted bool) []byte {
	if b, ok := c.done[v.shnum]; ok {
		return b
	}
	n := &watchproto.Notice{SI: c.si[:], Shnum: uint64(v.shnum), Deleted: deleted}
	if !deleted {
		n.Seqnum, n.Root = v.seq, v.root[:]
	}
	b, err := watchproto.Encode(n)
	if err != nil {
		return nil // cannot happen: every field is in range
	}
	if c.done == nil {
		c.done = map[int][]byte{}
	}
	c.done[v.shnum] = b
	return b
}

// byShnum orders share states by share number.
func byShnum(a, b ShareState) int { return cmp.Compare(a.Shnum, b.Shnum) }

// diff updates what sb knows to states (sorted by share number, as
// sb.known is) and calls f with every share whose state changed
// (deleted: it is gone). It costs one pass over both, however many
// shares an index has.
func (sb *sub) diff(states []ShareState, f func(v version, deleted bool)) {
	old := sb.known
	if sameShares(old, states) {
		for i, st := range states {
			if v := (version{st.Shnum, st.Seqnum, st.Root}); old[i] != v {
				old[i] = v
				f(v, false)
			}
		}
		return
	}
	next := make([]version, len(states))
	i := 0
	for j, st := range states {
		v := version{st.Shnum, st.Seqnum, st.Root}
		next[j] = v
		for ; i < len(old) && old[i].shnum < v.shnum; i++ {
			f(old[i], true)
		}
		if i < len(old) && old[i].shnum == v.shnum {
			if old[i] != v {
				f(v, false)
			}
			i++
		} else {
			f(v, false)
		}
	}
	for ; i < len(old); i++ {
		f(old[i], true)
	}
	sb.known = next
}

// sameShares reports whether known and states list the same shares.
func sameShares(known []version, states []ShareState) bool {
	if len(known) != len(states) {
		return false
	}
	for i := range known {
		if known[i].shnum != states[i].Shnum {
			return false
		}
	}
	return true
}

// subscribe registers one subscription for s and returns its result.
func (h *Hub) subscribe(ctx context.Context, s *session, req watchproto.Sub) watchproto.Result {
	res := watchproto.Result{SI: req.SI}
	if len(req.SI) != watchproto.SILen || len(req.Fingerprint) != watchproto.FPLen {
		res.Refused = watchproto.Malformed
		return res
	}
	k := siKey(req.SI)
	stripe := &h.stripes[k[0]]
	stripe.Lock()
	defer stripe.Unlock()
	if !h.watch(k) {
		res.Refused = watchproto.Unavailable
		return res
	}
	defer h.unwatchIfIdle(k)
	states, err := h.src.MutableShares(ctx, req.SI)
	switch {
	case err != nil:
		h.opts.Logger.Warn("watch: cannot read shares to subscribe", "si", k, "err", err)
		res.Refused = watchproto.Unavailable
		return res
	case len(states) == 0:
		res.Refused = watchproto.NoShare
		return res
	case !fingerprintMatches(states, req.Fingerprint):
		res.Refused = watchproto.FingerprintMismatch
		return res
	}
	slices.SortFunc(states, byShnum)
	sb := &sub{known: make([]version, len(states))}
	res.Shares = make([]watchproto.ShareState, len(states))
	for i, st := range states {
		sb.known[i] = version{st.Shnum, st.Seqnum, st.Root}
		res.Newer = res.Newer || st.Seqnum > req.Seqnum
		// states is ours (ShareSource), so the reply can point into it.
		res.Shares[i] = watchproto.ShareState{Shnum: uint64(st.Shnum), Seqnum: st.Seqnum, Root: states[i].Root[:]}
	}
	if limit := h.register(s, k, sb); limit != "" {
		h.refusedSub(s, limit)
		return watchproto.Result{SI: req.SI, Refused: watchproto.OverLimit}
	}
	return res
}

func fingerprintMatches(states []ShareState, fp []byte) bool {
	for _, st := range states {
		if bytes.Equal(st.Fingerprint[:], fp) {
			return true
		}
	}
	return false
}

// register adds or replaces s's subscription to k, within the limits;
// it returns the limit that refused it, or "".
func (h *Hub) register(s *session, k siKey, sb *sub) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.bySI[k]
	if _, replacing := subs[s]; !replacing {
		if limit := h.subLimit(s); limit != "" {
			return limit
		}
		s.sis[k] = struct{}{}
		h.total++
		if s.client != nil {
			s.client.subs++
		}
		h.opts.Metrics.Subscribed(1)
	}
	if subs == nil {
		subs = map[*session]*sub{}
		h.bySI[k] = subs
	}
	subs[s] = sb
	s.dropNotices(k)
	return ""
}

// subLimit names the limit one more subscription on s would exceed.
func (h *Hub) subLimit(s *session) string {
	switch {
	case len(s.sis) >= h.opts.MaxSubsPerConn:
		return limitPerConn
	case s.client != nil && s.client.subs >= h.opts.MaxSubsPerClient:
		return limitPerClient
	case h.total >= h.opts.MaxSubsTotal:
		return limitTotal
	}
	return ""
}

// watch makes sure the Watcher watches k; the caller holds k's stripe.
func (h *Hub) watch(k siKey) bool {
	w := h.opts.Watcher
	if w == nil {
		return true
	}
	h.mu.Lock()
	n := len(h.bySI[k])
	h.mu.Unlock()
	if n > 0 {
		return true
	}
	if err := w.Watch(k[:]); err != nil {
		h.opts.Logger.Warn("watch: cannot watch storage index", "si", k, "err", err)
		return false
	}
	return true
}

// unwatchIfIdle stops watching k when nobody subscribes to it; the caller
// holds k's stripe.
func (h *Hub) unwatchIfIdle(k siKey) {
	if h.opts.Watcher == nil {
		return
	}
	h.mu.Lock()
	n := len(h.bySI[k])
	h.mu.Unlock()
	if n == 0 {
		h.opts.Watcher.Unwatch(k[:])
	}
}

// unsubscribe removes s's subscription to si, if any.
func (h *Hub) unsubscribe(s *session, si []byte) {
	h.remove(s, siKey(si))
}

// remove removes s's subscription to k under k's stripe, so that the
// Watcher's state changes in step with subscriptions.
func (h *Hub) remove(s *session, k siKey) {
	stripe := &h.stripes[k[0]]
	stripe.Lock()
	defer stripe.Unlock()
	h.mu.Lock()
	h.removeLocked(s, k)
	h.mu.Unlock()
	h.unwatchIfIdle(k)
}

func (h *Hub) removeLocked(s *session, k siKey) {
	subs := h.bySI[k]
	if _, ok := subs[s]; !ok {
		return
	}
	delete(subs, s)
	if len(subs) == 0 {
		delete(h.bySI, k)
	}
	delete(s.sis, k)
	h.total--
	if s.client != nil {
		s.client.subs--
	}
	h.opts.Metrics.Subscribed(-1)
}

// open and close account for a connection's life.
func (h *Hub) open(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[s] = struct{}{}
	h.opts.Metrics.ConnOpened()
}

func (h *Hub) close(s *session) {
	h.mu.Lock()
	delete(h.sessions, s)
	h.opts.Metrics.ConnClosed()
	sis := make([]siKey, 0, len(s.sis))
	for k := range s.sis {
		sis = append(sis, k)
	}
	h.mu.Unlock()
	for _, k := range sis {
		h.remove(s, k)
	}
	h.release(s.client)
}

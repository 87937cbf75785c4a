package watchserver

import (
	"sync"
	"time"
)

// session is one connection's outbound queue. Replies go out in order;
// notices are coalesced per share (only the latest state is kept) and go
// out after every reply queued before them. While a subscribe batch is
// being processed the notices are held back, so that a subscription's
// "subscribed" reply always precedes its notices.
type session struct {
	sis    map[siKey]struct{} // this connection's subscriptions; guarded by Hub.mu
	client *client            // the client (source address) it belongs to; nil in tests of the hub alone

	mu       sync.Mutex
	replies  [][]byte
	pending  int // bytes in replies
	notices  map[shareKey]queued
	order    []shareKey // notice keys in arrival order; may hold stale keys
	held     bool
	overflow bool
	max      int
	wake     chan struct{}
	lost     chan struct{} // closed when notices overflowed or a resync was forced
	resync   bool          // the overflow was forced by Hub.Resync, not a slow client
}

// queued is an undelivered notice, encoded (one encoding may be queued
// on many sessions; it is never modified), and when the change it
// reports was first seen (for the notice latency metric).
type queued struct {
	b  []byte
	at time.Time
}

// maxPendingReplyBytes bounds the replies queued for one connection: a
// client that sends requests but does not read the replies (the write
// loop is blocked on it) would otherwise grow the queue without end. An
// honest client waits for each reply; the bound leaves room for many
// full-size subscribe replies pipelined.
const maxPendingReplyBytes = 16 << 20

func newSession(maxPending int) *session {
	return &session{sis: map[siKey]struct{}{}, notices: map[shareKey]queued{},
		max: maxPending, wake: make(chan struct{}, 1), lost: make(chan struct{})}
}

func (s *session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queueNotice queues the encoded notice b about share k, changed at time
// at, replacing any undelivered notice of the same share (whose time it
// keeps).
func (s *session) queueNotice(k shareKey, b []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow {
		return
	}
	if old, ok := s.notices[k]; ok {
		at = old.at
	} else {
		if len(s.notices) >= s.max {
			s.overflowLocked(false)
			return
		}
		s.order = append(s.order, k)
	}
	s.notices[k] = queued{b, at}
	s.signal()
}

// forceResync marks the session as having lost notices, which closes its
// connection with CloseOverflow so the client re-reads.
func (s *session) forceResync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.overflow {
		s.overflowLocked(true)
	}
}

func (s *session) overflowLocked(resync bool) {
	s.overflow, s.resync = true, resync
	close(s.lost)
	s.signal()
}

// forced reports whether the overflow was forced by a resync.
func (s *session) forced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resync
}

// dropNotices discards undelivered notices of storage index k. It costs
// at most 256 lookups, however many notices are queued: a batch of 1,000
// replacements on a connection with 4,096 pending notices must not cost
// four million.
func (s *session) dropNotices(k siKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notices) > maxShnum+1 {
		for shnum := range maxShnum + 1 {
			delete(s.notices, shareKey{k, shnum})
		}
		return
	}
	for sk := range s.notices {
		if sk.si == k {
			delete(s.notices, sk)
		}
	}
}

// maxShnum is the highest share number.
const maxShnum = 255

// hold stops notices going out until release queues the batch's reply.
func (s *session) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = true
}

// release queues reply and lets held notices go out after it. A client
// whose unread replies pass maxPendingReplyBytes overflows: its
// connection is closed.
func (s *session) release(reply []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = false
	if s.overflow {
		return
	}
	if s.pending += len(reply); s.pending > maxPendingReplyBytes {
		s.replies = nil
		s.overflowLocked(false)
		return
	}
	s.replies = append(s.replies, reply)
	s.signal()
}

// queueReply queues an encoded reply.
func (s *session) queueReply(reply []byte) { s.release(reply) }

// take returns everything ready to send, in order, and whether the
// connection overflowed.
func (s *session) take() (replies [][]byte, notices []queued, overflow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow {
		return nil, nil, true
	}
	replies, s.replies, s.pending = s.replies, nil, 0
	if s.held {
		return replies, nil, false
	}
	for _, k := range s.order {
		if q, ok := s.notices[k]; ok {
			notices = append(notices, q)
			delete(s.notices, k)
		}
	}
	s.order = s.order[:0]
	return replies, notices, false
}

package watchserver

import (
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// session is one connection's outbound queue. Replies go out in order;
// notices are coalesced per share (only the latest state is kept) and go
// out after every reply queued before them. While a subscribe batch is
// being processed the notices are held back, so that a subscription's
// "subscribed" reply always precedes its notices.
type session struct {
	sis map[siKey]struct{} // this connection's subscriptions; guarded by Hub.mu

	mu       sync.Mutex
	replies  [][]byte
	notices  map[shareKey]*watchproto.Notice
	order    []shareKey // notice keys in arrival order; may hold stale keys
	held     bool
	overflow bool
	max      int
	wake     chan struct{}
	lost     chan struct{} // closed when notices overflowed
}

func newSession(maxPending int) *session {
	return &session{sis: map[siKey]struct{}{}, notices: map[shareKey]*watchproto.Notice{},
		max: maxPending, wake: make(chan struct{}, 1), lost: make(chan struct{})}
}

func (s *session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queueNotice queues n, replacing any undelivered notice of the same share.
func (s *session) queueNotice(n *watchproto.Notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow {
		return
	}
	k := shareKey{siKey(n.SI), int(n.Shnum)}
	if _, ok := s.notices[k]; !ok {
		if len(s.notices) >= s.max {
			s.overflow = true
			close(s.lost)
			return
		}
		s.order = append(s.order, k)
	}
	s.notices[k] = n
	s.signal()
}

// dropNotices discards undelivered notices of storage index k.
func (s *session) dropNotices(k siKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sk := range s.notices {
		if sk.si == k {
			delete(s.notices, sk)
		}
	}
}

// hold stops notices going out until release queues the batch's reply.
func (s *session) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = true
}

// release queues reply and lets held notices go out after it.
func (s *session) release(reply []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = false
	s.replies = append(s.replies, reply)
	s.signal()
}

// queueReply queues an encoded reply.
func (s *session) queueReply(reply []byte) { s.release(reply) }

// take returns everything ready to send, in order, and whether the
// connection overflowed.
func (s *session) take() (replies [][]byte, notices []*watchproto.Notice, overflow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow {
		return nil, nil, true
	}
	replies, s.replies = s.replies, nil
	if s.held {
		return replies, nil, false
	}
	for _, k := range s.order {
		if n, ok := s.notices[k]; ok {
			notices = append(notices, n)
			delete(s.notices, k)
		}
	}
	s.order = s.order[:0]
	return replies, notices, false
}

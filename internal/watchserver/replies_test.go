package watchserver

import (
	"testing"
)

// TestUnreadRepliesAreBounded: a client that keeps sending requests but
// never reads (its connection's write loop blocked) cannot grow the
// reply queue without end: past maxPendingReplyBytes the session
// overflows, which closes the connection; replies taken in time reset
// the count.
func TestUnreadRepliesAreBounded(t *testing.T) {
	reply := make([]byte, 1<<20)
	s := newSession(DefaultMaxPending)
	for range 3 * maxPendingReplyBytes / len(reply) {
		s.release(reply)
		if _, _, overflow := s.take(); overflow {
			t.Fatal("replies taken in time overflowed the session")
		}
	}
	for range maxPendingReplyBytes / len(reply) {
		s.release(reply)
	}
	select {
	case <-s.lost:
		t.Fatal("overflowed at the bound, not past it")
	default:
	}
	s.release([]byte("one more"))
	select {
	case <-s.lost:
	default:
		t.Fatalf("%d bytes of unread replies queued; want the session closed past %d", s.pending, maxPendingReplyBytes)
	}
	if s.forced() || len(s.replies) != 0 {
		t.Fatalf("overflow marked forced (%v) or kept %d replies", s.forced(), len(s.replies))
	}
	s.release(reply) // after overflow: dropped
	if len(s.replies) != 0 {
		t.Fatal("reply queued after overflow")
	}
}

package watchserver

import (
	"testing"
	"time"
)

// TestDropNotices: a replacement discards the undelivered notices of its
// storage index only, whether few notices are queued (scanned) or many
// (looked up by share number).
func TestDropNotices(t *testing.T) {
	for _, others := range []int{3, 1000} {
		s := newSession(DefaultMaxPending)
		k, other := siKey(testSI(1)), siKey(testSI(2))
		for _, shnum := range []int{0, 7, 255} {
			s.queueNotice(shareKey{k, shnum}, []byte{1}, time.Now())
		}
		for i := range others {
			var o siKey
			copy(o[:], testSI(100+i))
			s.queueNotice(shareKey{o, i % 256}, []byte{2}, time.Now())
		}
		s.queueNotice(shareKey{other, 7}, []byte{3}, time.Now())
		s.dropNotices(k)
		_, notices, overflow := s.take()
		if overflow || len(notices) != others+1 {
			t.Fatalf("%d others: %d notices left (overflow %v), want %d", others, len(notices), overflow, others+1)
		}
		for _, q := range notices {
			if q.b[0] == 1 {
				t.Fatalf("%d others: a notice of the replaced index survived", others)
			}
		}
	}
}

package watchserver

import (
	"slices"
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

// TestDiff: a subscription's view follows the shares read, reporting
// each new or changed share once and each vanished one as deleted, when
// the set of shares stays the same and when it changes.
func TestDiff(t *testing.T) {
	st := func(shnum int, seq uint64) ShareState {
		return ShareState{Shnum: shnum, Seqnum: seq, Root: rootFor(seq)}
	}
	type change struct {
		shnum   int
		seq     uint64
		deleted bool
	}
	sb := &sub{known: []version{{0, 1, rootFor(1)}, {2, 1, rootFor(1)}, {5, 1, rootFor(1)}}}
	for _, step := range []struct {
		states []ShareState // sorted by share number, as Notify passes them
		want   []change
	}{
		{[]ShareState{st(0, 1), st(2, 2), st(5, 1)}, []change{{2, 2, false}}},
		{[]ShareState{st(1, 3), st(2, 2), st(5, 1), st(9, 1)}, []change{{0, 0, true}, {1, 3, false}, {9, 1, false}}},
		{[]ShareState{st(1, 3), st(2, 2), st(5, 1), st(9, 1)}, nil},
		{[]ShareState{st(5, 4)}, []change{{1, 0, true}, {2, 0, true}, {5, 4, false}, {9, 0, true}}},
		{nil, []change{{5, 0, true}}},
	} {
		var got []change
		sb.diff(step.states, func(v version, deleted bool) {
			c := change{v.shnum, v.seq, deleted}
			if deleted {
				c.seq = 0
			}
			got = append(got, c)
		})
		if !slices.Equal(got, step.want) {
			t.Fatalf("states %v: changes %v, want %v", step.states, got, step.want)
		}
		if len(sb.known) != len(step.states) {
			t.Fatalf("knows %d shares, want %d", len(sb.known), len(step.states))
		}
		for i, s := range step.states {
			if sb.known[i] != (version{s.Shnum, s.Seqnum, s.Root}) {
				t.Fatalf("knows %+v, want share %d seq %d", sb.known[i], s.Shnum, s.Seqnum)
			}
		}
	}
}

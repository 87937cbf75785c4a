package watcher

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// TestBadShareWarningsBounded: a bad share is warned about once while
// its reason stays, again when the reason changes, and what is
// remembered stays one reason per share however many reasons a server
// makes up (a rollback's seqnums, say).
func TestBadShareWarningsBounded(t *testing.T) {
	w := &Watcher{out: make(chan events.Event, 1000), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w.opts.Clock = realClock{}
	e := &entry{}
	ctx := context.Background()
	bad := func(reason string) []BadShare {
		return []BadShare{{Server: "s1", Shnum: 0, Reason: reason}, {Server: "s1", Shnum: 1, Reason: reason}}
	}
	w.badShares(ctx, e, bad("garbage"))
	w.badShares(ctx, e, bad("garbage"))
	if n := len(w.out); n != 2 {
		t.Fatalf("%d warnings for two bad shares reported twice, want 2", n)
	}
	for i := range 100 {
		w.badShares(ctx, e, bad(fmt.Sprintf("rolled back to seqnum %d", i)))
	}
	if n := len(w.out); n != 202 {
		t.Errorf("%d warnings, want 202 (one per share per new reason)", n)
	}
	if n := len(e.badSeen); n != 2 {
		t.Errorf("%d bad-share records kept for 2 shares, want 2", n)
	}
}

package watcher_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// TestUncoordinatedWriteWarns plants two different recoverable versions
// with the same seqnum, as two writers racing would leave them: one
// changed event for the winner, then one warning, never a second change;
// then a version stuck below k warns too.
func TestUncoordinatedWriteWarns(t *testing.T) {
	g := startGrid(t, demo.GridOptions{})
	p := newPublisher(t, g.Grid())
	priv := freshKey(t)
	res, err := p.Create(context.Background(), priv, []byte("v1"), publish.Params{Format: cap.SDMF, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cap
	_, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: 300 * time.Millisecond}, c)
	encode := func(text string, seq uint64) *mutable.Encoded {
		enc, err := mutable.Encode(priv, []byte(text), mutable.Params{Version: mutable.SDMF, K: 3, N: 5, Seqnum: seq})
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	a, b := encode("writer A", 2), encode("writer B", 2)
	si := base32.Encode(c.SI)
	dirOf := func(n int) string { return filepath.Join(g.Nodes[n].Base, "storage", "shares", si[:2], si) }
	for n := range g.Nodes {
		os.RemoveAll(dirOf(n))
	}
	plant := func(n, shnum int, enc *mutable.Encoded) {
		m := container.NewMutable(container.NewestMutableVersion, [20]byte{}, [32]byte{})
		if err := m.Write(0, enc.Shares[shnum]); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dirOf(n), 0o700)
		if err := os.WriteFile(filepath.Join(dirOf(n), strconv.Itoa(shnum)), m.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plant(0, 0, a)
	plant(1, 1, a)
	plant(2, 2, a)
	plant(3, 3, b)
	plant(4, 4, b)
	plant(3, 0, b)
	e := next(t, ch, 10*time.Second)
	if e.Type != events.Changed || e.Seqnum != 2 {
		t.Fatalf("first event %+v, want changed seq 2", e)
	}
	e = next(t, ch, 10*time.Second)
	if e.Type != events.Warning || e.Seqnum != 2 || e.Warning != events.WarnUncoordinated {
		t.Fatalf("second event %+v, want an uncoordinated-write warning", e)
	}
	quiet(t, ch, time.Second) // refreshes continue: no repeat, no change

	// A version 3 that reached one server only: a warning at the next
	// refresh, no change.
	plant(0, 0, encode("stuck", 3))
	e = next(t, ch, 10*time.Second)
	if e.Type != events.Warning || e.Seqnum != 3 || e.Warning != events.WarnUnrecoverableNewer {
		t.Fatalf("event %+v, want a stuck-version warning for seq 3", e)
	}
	quiet(t, ch, time.Second)
}

package watcher_test

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// gridder is a test grid: a *demo.Grid or a *countGrid.
type gridder interface{ Grid() *grid.Grid }

// startGrid starts an embedded loopback grid that stops with the test.
func startGrid(t testing.TB, o demo.GridOptions) *demo.Grid {
	t.Helper()
	g, err := demo.StartGrid(context.Background(), t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func newPublisher(t testing.TB, g *grid.Grid) *publish.Publisher {
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	return &publish.Publisher{Grid: g, Dial: cl.Dial}
}

var (
	keysMu sync.Mutex
	keys   []*rsa.PrivateKey
)

// freshKey returns a new signing key (each new file needs its own).
func freshKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsakey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// create publishes a new 3-of-5 SDMF file (or directory) and returns
// its write cap.
func create(t testing.TB, p *publish.Publisher, dir bool, content []byte) *cap.Mutable {
	t.Helper()
	res, err := p.Create(context.Background(), freshKey(t), content, publish.Params{Format: cap.SDMF, Dir: dir, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	return res.Cap
}

// put publishes content as the next version of c and returns its seqnum.
func put(t testing.TB, p *publish.Publisher, c *cap.Mutable, content []byte) uint64 {
	t.Helper()
	res, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return content, nil })
	if err != nil {
		t.Fatal(err)
	}
	return res.Seqnum
}

// watch runs a watcher on caps until the test ends and returns it with
// its events.
func watch(t testing.TB, g gridder, o watcher.Options, caps ...cap.Cap) (*watcher.Watcher, <-chan events.Event) {
	t.Helper()
	return watchWithin(t, g, o, 30*time.Second, caps...)
}

// watchWithin is watch, failing if the watcher is not ready within d.
func watchWithin(t testing.TB, g gridder, o watcher.Options, d time.Duration, caps ...cap.Cap) (*watcher.Watcher, <-chan events.Event) {
	t.Helper()
	o.Grid = g.Grid()
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	w, err := watcher.New(caps, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan events.Event, 10000) // more would weigh in the benchmarks' heap figures
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func(e events.Event) { ch <- e })
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-w.Ready():
	case <-time.After(d):
		t.Fatalf("watcher not ready after %s", d)
	}
	return w, ch
}

func testLogger() *slog.Logger {
	if os.Getenv("WATCHER_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// next returns the next event, failing after d.
func next(t testing.TB, ch <-chan events.Event, d time.Duration) events.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(d):
		t.Fatalf("no event within %s", d)
	}
	return events.Event{}
}

// quiet fails if an event arrives within d.
func quiet(t testing.TB, ch <-chan events.Event, d time.Duration) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(d):
	}
}

package mirror_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/upload"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// world is a loopback grid with watch endpoints and the tools to change
// it: a publisher, a directory editor and an uploader.
type world struct {
	g   *grid.Grid
	pub *publish.Publisher
	ed  *dirop.Editor
	up  *upload.Uploader
}

func newWorld(t testing.TB, servers int) *world {
	t.Helper()
	dg, err := demo.StartGrid(context.Background(), t.TempDir(), demo.GridOptions{Servers: servers, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dg.Close)
	return newWorldOn(t, dg.Grid())
}

// newWorldOn is newWorld on a grid the caller started.
func newWorldOn(t testing.TB, g *grid.Grid) *world {
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	pub := &publish.Publisher{Grid: g, Dial: cl.Dial}
	return &world{
		g:   g,
		pub: pub,
		ed:  &dirop.Editor{Pub: pub, New: publish.Params{Format: cap.SDMF, K: 3, N: 5}, NewKey: rsakey.Generate},
		up: &upload.Uploader{Grid: g, Dial: func(s *grid.ServerInfo) (upload.Storage, error) { return cl.Client(s) },
			Convergence: []byte("sixteen byte key"), K: 3, Happy: 3, N: 5},
	}
}

func quiet() *slog.Logger {
	if os.Getenv("MIRROR_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsakey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mkdir creates an empty directory and returns its write cap.
func (w *world) mkdir(t testing.TB) *cap.Mutable {
	t.Helper()
	c, err := w.ed.Mkdir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createRaw publishes raw directory contents (possibly ones Pack would
// refuse) as a new directory.
func (w *world) createRaw(t testing.TB, contents []byte) *cap.Mutable {
	t.Helper()
	res, err := w.pub.Create(context.Background(), key(t), contents, publish.Params{Format: cap.SDMF, Dir: true, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	return res.Cap
}

// upload stores data as an immutable file (LIT when small).
func (w *world) upload(t testing.TB, data []byte) cap.Cap {
	t.Helper()
	res, err := w.up.Upload(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	return res.Cap
}

// mutableFile creates an SDMF file.
func (w *world) mutableFile(t testing.TB, data []byte) *cap.Mutable {
	t.Helper()
	res, err := w.pub.Create(context.Background(), key(t), data, publish.Params{Format: cap.SDMF, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	return res.Cap
}

func (w *world) put(t testing.TB, c *cap.Mutable, data []byte) {
	t.Helper()
	if _, err := w.pub.Modify(context.Background(), c, func([]byte) ([]byte, error) { return data, nil }); err != nil {
		t.Fatal(err)
	}
}

// link links c at p below root, replacing any entry there.
func (w *world) link(t testing.TB, root cap.Cap, p string, c cap.Cap) {
	t.Helper()
	if err := w.ed.Link(context.Background(), root, strings.Split(p, "/"), dirop.ChildOf(c), true, true); err != nil {
		t.Fatal(err)
	}
}

func (w *world) unlink(t testing.TB, root cap.Cap, p string) {
	t.Helper()
	if err := w.ed.Unlink(context.Background(), root, strings.Split(p, "/")); err != nil {
		t.Fatal(err)
	}
}

// netstring encodes b as Tahoe does.
func netstring(b string) string { return fmt.Sprintf("%d:%s,", len(b), b) }

// rawDir builds directory contents entry by entry without Pack's checks.
func rawDir(entries map[string]string) []byte {
	var names []string
	for n := range entries {
		names = append(names, n)
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(netstring(netstring(n) + netstring(entries[n]) + netstring("") + netstring("{}")))
	}
	return []byte(b.String())
}

// recorder collects events from a mirror.
type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) emit(e events.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }

func (r *recorder) of(t events.Type) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, e := range r.evs {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func open(t testing.TB, root cap.Cap, dir string, g *grid.Grid, o mirror.Options) *mirror.Mirror {
	t.Helper()
	o.Grid = g
	if o.Logger == nil {
		o.Logger = quiet()
	}
	m, err := mirror.Open(root, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// run runs m live until the test ends.
func run(t testing.TB, m *mirror.Mirror, rec *recorder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, rec.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// waitFor polls cond until it holds, failing after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func hasContent(p string, want []byte) func() bool {
	return func() bool { b, err := os.ReadFile(p); return err == nil && bytes.Equal(b, want) }
}

func gone(p string) func() bool {
	return func() bool { _, err := os.Lstat(p); return os.IsNotExist(err) }
}

// noTemps fails if a temporary file is left anywhere below dir.
func noTemps(t testing.TB, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tahoe-watch-tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

var _ = watcher.DefaultPoll

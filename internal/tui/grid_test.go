package tui

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// TestLoopbackGridPublishUpdatesRowAndLog runs the dashboard over a real
// watcher on an embedded five-server grid: a publish must show up as the
// row's new seqnum and as a line in the event log.
func TestLoopbackGridPublishUpdatesRowAndLog(t *testing.T) {
	ctx := context.Background()
	g, p, res := gridWithFile(t)
	src, err := NewWatcherSource(ctx, []Target{{Cap: res.Cap}}, watcher.Options{Grid: g.Grid(), Poll: time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)

	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(src, Options{Renderer: r, Tick: 50 * time.Millisecond})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { tm.Quit() })
	short := name(readCap(res.Cap), "")
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return strings.Contains(string(b), "push") && strings.Contains(string(b), "up to date")
	}, teatest.WithDuration(20*time.Second))
	// Wait for every server to be subscribed before publishing.
	deadline := time.Now().Add(20 * time.Second)
	for !allPush(src.Status()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := p.Modify(ctx, res.Cap, func([]byte) ([]byte, error) { return []byte("two!"), nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tm, "seq 2 (was 1) via push")
	tm.Send(press("enter"))
	waitFor(t, tm, "3/5 4B best") // the servermap of the new version
	final, _ := final(t, tm)
	final.mode = modeMain
	view := final.View()
	row := ""
	for _, l := range strings.Split(view, "\n") {
		if strings.HasPrefix(l, "> "+short) {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 3 || f[2] != "2" {
		t.Errorf("row %q: seqnum not 2\n%s", row, view)
	}
	if strings.Contains(view, res.Cap.String()) {
		t.Errorf("write cap rendered")
	}
	if h := final.holders(final.selected); len(h) != 5 {
		t.Errorf("shares known for %d servers, want 5", len(h))
	}
}

func allPush(st Status) bool {
	for _, s := range st.Servers {
		if s.Mode != watcher.ModePush {
			return false
		}
	}
	return len(st.Servers) > 0
}

// TestServersDownShownTruly stops servers of a real grid: one down before
// the dashboard starts (which the watcher only "polls", with nothing to
// poll) must show as down with its refusal and no round-trip time, and
// the cap's state must follow how many servers answer.
func TestServersDownShownTruly(t *testing.T) {
	probeEvery = 100 * time.Millisecond
	t.Cleanup(func() { probeEvery = 5 * time.Second })
	ctx := context.Background()
	g, _, res := gridWithFile(t)
	g.Nodes[0].Stop()
	g.Nodes[1].Stop()
	src, err := NewWatcherSource(ctx, []Target{{Cap: res.Cap, Name: "one"}}, watcher.Options{Grid: g.Grid(),
		Poll: 50 * time.Millisecond, MaxRetry: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	m := New(src, Options{})
	waitState := func(want string, down int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			m.refreshStatus()
			r, _ := m.selectedRow()
			got, _ := m.state(r)
			n, said := 0, 0
			for _, s := range m.status.Servers {
				if s.Mode == watcher.ModeDown {
					n++
					if s.Latency != 0 {
						t.Fatalf("down server %s has RTT %v", s.Name, s.Latency)
					}
					if strings.Contains(s.LastError, "refused") {
						said++
					}
				}
			}
			if got == want && n == down && said == down {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %q with %d down, want %q with %d:\n%s", got, n, want, down, m.View())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitState("up to date", 2)
	g.Nodes[2].Stop()
	waitState("stale: 2 up < k=3", 3)
	for _, n := range g.Nodes {
		n.Stop()
	}
	waitState("offline: 0 servers", 5)
}

// TestReAddKeepsName: adding a watched cap again, named by its path as
// the add prompt does, says it is already watched and renames nothing.
func TestReAddKeepsName(t *testing.T) {
	ctx := context.Background()
	g, _, res := gridWithFile(t)
	src, err := NewWatcherSource(ctx, []Target{{Cap: res.Cap, Name: "mynotes"}}, watcher.Options{Grid: g.Grid(),
		Poll: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	got, err := src.Add(ctx, Target{Cap: res.Cap, Name: "docs/notes.txt"})
	if err != nil || got != AlreadyWatched {
		t.Fatalf("re-add: %v, %v", got, err)
	}
	if ts := src.Targets(); len(ts) != 1 || ts[0].Name != "mynotes" {
		t.Fatalf("targets after re-add %+v, want the one named mynotes", ts)
	}
}

// gridWithFile starts an embedded five-server grid holding one 3-of-5
// SDMF file, "one", and returns the grid, a publisher and the file.
func gridWithFile(t *testing.T) (*demo.Grid, *publish.Publisher, *publish.Result) {
	t.Helper()
	g, err := demo.StartGrid(context.Background(), t.TempDir(), demo.GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	p := &publish.Publisher{Grid: g.Grid(), Dial: cl.Dial}
	key, err := rsakey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Create(context.Background(), key, []byte("one"), publish.Params{Format: cap.SDMF, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	return g, p, res
}

package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
	"io"
	"slices"
)

// startWith runs a model over src with extra options, as start does.
func startWith(t *testing.T, src Source, o Options) *teatest.TestModel {
	t.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	o.Now, o.Renderer, o.Tick = func() time.Time { return t0 }, r, time.Hour
	tm := teatest.NewTestModel(t, New(src, o), teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { tm.Quit() })
	return tm
}

func TestRemoveAsksFirst(t *testing.T) {
	src := fixture()
	tm := start(t, src)
	tm.Send(press("d"))
	waitFor(t, tm, "remove notes.txt from the watch list? y removes")
	tm.Send(press("q")) // an answer, not quit
	waitFor(t, tm, "not removed")
	m, _ := final(t, tm)
	if len(src.Calls()) != 0 || len(m.rows()) != 3 {
		t.Fatalf("calls %q, %d rows: removed without a yes", src.Calls(), len(m.rows()))
	}
}

func TestRefreshSaysWhatItDoes(t *testing.T) {
	tm := start(t, fixture())
	tm.Send(press("r"))
	waitFor(t, tm, "refresh started: every server resubscribed")
	final(t, tm)
}

func TestAddSaysWhatHappened(t *testing.T) {
	src := fixture()
	watched, paused := src.st.Caps[0].Cap, src.st.Paused[0]
	tm := start(t, src)
	tm.Send(press("a"))
	tm.Type(watched)
	tm.Send(press("enter"))
	waitFor(t, tm, "notes.txt is already watched") // a name given earlier stays
	tm.Send(press("a"))
	tm.Type(paused)
	tm.Send(press("enter"))
	waitFor(t, tm, "was paused: resumed")
	m, _ := final(t, tm)
	if strings.Contains(strings.Join(m.messages, "\n"), "added") {
		t.Errorf("said added: %q", m.messages)
	}
}

// TestAddCapPathAndName types DIRCAP/PATH NAME: the prompt hands the text
// to Resolve (the cli's resolution) and the row is named.
func TestAddCapPathAndName(t *testing.T) {
	src := fixture()
	dir, file := fixedCap(210, true), fixedCap(211, false)
	var mu sync.Mutex
	var got string
	resolve := func(_ context.Context, text string) (Target, error) {
		mu.Lock()
		got = text
		mu.Unlock()
		return Target{Cap: file.ReadOnly(), Name: "my notes"}, nil
	}
	tm := startWith(t, src, Options{Resolve: resolve})
	tm.Send(press("a"))
	tm.Type(dir.String() + "/docs/n.txt my notes") // a write cap, reduced as typed
	tm.Send(press("enter"))
	waitFor(t, tm, "added my notes")
	m, view := final(t, tm)
	mu.Lock()
	defer mu.Unlock()
	if got != readCap(dir)+"/docs/n.txt my notes" {
		t.Errorf("resolved %q, want the read cap with its path and name", got)
	}
	if !strings.Contains(view, "> my notes") || m.selected != readCap(file) {
		t.Errorf("new row not named and selected:\n%s", view)
	}
}

func TestHintsComeBackAfterAMessage(t *testing.T) {
	tm := startWith(t, fixture(), Options{FlashFor: 50 * time.Millisecond})
	tm.Send(press("d"))
	tm.Send(press("n"))
	waitFor(t, tm, "not removed")
	waitFor(t, tm, "a add • d remove")
	_, view := final(t, tm)
	if !strings.Contains(view, "a add") {
		t.Fatalf("key hints did not come back:\n%s", view)
	}
}

func TestEscClearsFilter(t *testing.T) {
	tm := start(t, fixture())
	tm.Send(press("/"))
	tm.Type("photos")
	tm.Send(press("enter"))
	waitFor(t, tm, "filter: photos")
	tm.Send(press("esc"))
	m, view := final(t, tm)
	if m.filter != "" || len(m.rows()) != 3 || strings.Contains(view, "filter:") {
		t.Fatalf("filter %q after esc:\n%s", m.filter, view)
	}
}

// TestServermapHeaderSpacing narrows the details until the server
// columns are at their minimum: names must still be apart.
func TestServermapHeaderSpacing(t *testing.T) {
	src := fixture()
	sm := src.smaps[src.st.Caps[0].Cap]
	for i, s := range sm.Servers {
		s.Name = "storage-server-" + string(rune('a'+i))
	}
	tm := start(t, src)
	tm.Send(tea.WindowSizeMsg{Width: 50, Height: 24})
	tm.Send(press("enter"))
	waitFor(t, tm, "seq 8")
	m, view := final(t, tm)
	if m.mode != modeDetail {
		t.Fatal("not in details")
	}
	for _, l := range strings.Split(view, "\n") {
		if strings.HasPrefix(l, "VERSION") {
			if strings.Contains(l, "sto…sto") || strings.Contains(l, "…s") {
				t.Fatalf("names run together: %q", l)
			}
			return
		}
	}
	t.Fatalf("no header:\n%s", view)
}

func TestErrorsInFull(t *testing.T) {
	src := fixture()
	long := "dial tcp 127.0.0.1:9: connect: connection refused while asking for the watch endpoint, then again after 30s backoff; END-OF-ERROR"
	src.st.Servers[3].LastError = long
	tm := start(t, src)
	tm.Send(press("e"))
	waitFor(t, tm, "ERRORS AND MESSAGES")
	m, view := final(t, tm)
	if m.mode != modePager {
		t.Fatal("not in the pager")
	}
	if !strings.Contains(strings.ReplaceAll(view, "\n", ""), "END-OF-ERROR") {
		t.Fatalf("the error is cut:\n%s", view)
	}
	for in, want := range map[string]string{
		"refused: grid.Version: server s1 unreachable: Get \"https://x/v\": dial tcp x: connect: connection refused": "refused: connection refused",
		"connection refused": "connection refused",
	} {
		if got := shortError(in); got != want {
			t.Errorf("shortError(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStateWhenServersDown: with every server down no cap is "up to
// date"; with fewer than k up it is stale.
func TestStateWhenServersDown(t *testing.T) {
	for _, tc := range []struct {
		down int
		want string
	}{{5, "offline: 0 servers"}, {3, "stale: 2 up < k=3"}, {2, "up to date"}} {
		src := fixture()
		src.st.Caps[0].K = 3
		for i := range src.st.Servers {
			src.st.Servers[i].Mode = watcher.ModePush
			if i < tc.down {
				src.st.Servers[i].Mode, src.st.Servers[i].Latency = watcher.ModeDown, 0
			}
		}
		m := New(src, Options{Now: func() time.Time { return t0 }})
		r, _ := m.selectedRow()
		if got, _ := m.state(r); got != tc.want {
			t.Errorf("%d down: state %q, want %q", tc.down, got, tc.want)
		}
	}
}

// TestViewFile opens a small file in the pager; terminal escapes in it
// are shown as �, never sent to the terminal.
func TestViewFile(t *testing.T) {
	src := fixture()
	tm := start(t, src)
	tm.Send(press("v"))
	waitFor(t, tm, "indented")
	m, view := final(t, tm)
	if m.mode != modePager || !strings.Contains(view, "first line") || !strings.Contains(view, "notes.txt (31 bytes)") {
		t.Fatalf("not shown:\n%s", view)
	}
	if strings.Contains(view, "\x1b") || !strings.Contains(view, "�[31m red?") {
		t.Errorf("escape sequence not neutralised: %q", view)
	}
	m.mode = modeMain
	m.move(1) // photos: a directory
	if cmd := m.view(); cmd == nil || !strings.Contains(m.flash, "is a directory") {
		t.Errorf("viewing a directory: %q", m.flash)
	}
}

func TestCopyCap(t *testing.T) {
	src := fixture()
	var mu sync.Mutex
	var copied []string
	tm := startWith(t, src, Options{Copy: func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		copied = append(copied, s)
		return nil
	}})
	tm.Send(press("c"))
	waitFor(t, tm, "copied the read cap of notes.txt")
	final(t, tm)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(copied, []string{src.st.Caps[0].Cap}) {
		t.Fatalf("copied %q", copied)
	}
}

func TestSortCycles(t *testing.T) {
	src := fixture()
	src.st.Caps[1].LastChange = t0.Add(-time.Second) // photos changed last
	src.st.Caps[0].LastChange = t0.Add(-time.Hour)
	tm := start(t, src)
	tm.Send(press("s"))
	waitFor(t, tm, "sorted by last change")
	m, _ := final(t, tm)
	var names []string
	for _, r := range m.rows() {
		names = append(names, r.name)
	}
	if !slices.Equal(names, []string{"photos", "notes.txt", "todo.txt"}) {
		t.Errorf("by last change: %q", names)
	}
	m.sortBy = sortState
	names = names[:0]
	for _, r := range m.rows() {
		names = append(names, r.name)
	}
	if !slices.Equal(names, []string{"photos", "notes.txt", "todo.txt"}) { // confirming, up to date, paused
		t.Errorf("by state: %q", names)
	}
}

// TestChildRows: with -r the watcher lists what it found below a
// directory; rows are named root/path, and removing one says to select
// its directory.
func TestChildRows(t *testing.T) {
	src := fixture()
	dir := src.st.Caps[1].Cap
	child := fixedCap(220, false)
	src.st.Caps = append(src.st.Caps, watcher.CapStatus{Cap: readCap(child), Root: dir, Path: "sub/a.txt\x1b[2J",
		Known: true, Seqnum: 2, Checked: t0})
	tm := start(t, src)
	tm.Send(press("j"))
	tm.Send(press("j"))
	waitFor(t, tm, "> photos/sub/a.txt�[2J")
	tm.Send(press("d"))
	waitFor(t, tm, "is inside photos: select photos to remove it")
	m, _ := final(t, tm)
	if len(src.Calls()) != 0 {
		t.Fatalf("calls %q", src.Calls())
	}
	// Watched itself too (added by its own cap and name): a row of its own.
	m.status.Roots = []string{readCap(child)}
	m.status.Names[readCap(child)] = "a"
	for _, r := range m.rows() {
		if r.cap == readCap(child) && (r.child || r.name != "a") {
			t.Errorf("a cap watched itself shows as a child: %+v", r)
		}
	}
}

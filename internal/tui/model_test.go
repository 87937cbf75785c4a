package tui

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// start runs a model over src at 80×24 with a fixed clock and no colour.
func start(t *testing.T, src Source) *teatest.TestModel {
	t.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(src, Options{Now: func() time.Time { return t0 }, Renderer: r, Tick: time.Hour})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { tm.Quit() })
	return tm
}

// final quits and returns the model's last view.
func final(t *testing.T, tm *teatest.TestModel) (*Model, string) {
	t.Helper()
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	return m, m.View()
}

// waitFor waits until the output shows s.
func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// sampleEvents feeds a change and a warning about the first cap.
func sampleEvents(src *memSource) {
	c := src.st.Caps[0].Cap
	src.ch <- events.Event{Type: events.Changed, Time: t0.Add(-3 * time.Second), Cap: c, Root: c, Seqnum: 7,
		PreviousSeqnum: 6, Via: events.ViaPush, Server: "storage1", LatencyMS: 12.5, Size: 1234}
	src.ch <- events.Event{Type: events.Warning, Time: t0.Add(-time.Second), Cap: c, Root: c, Seqnum: 8,
		Via: events.ViaRefresh, Warning: events.WarnUnrecoverableNewer, Message: "a newer version has fewer than k shares and cannot be read"}
}

func TestMainViewGolden(t *testing.T) {
	src := fixture()
	sampleEvents(src)
	tm := start(t, src)
	waitFor(t, tm, "fewer than k")
	_, view := final(t, tm)
	golden.RequireEqual(t, []byte(view))
}

func TestDetailViewGolden(t *testing.T) {
	src := fixture()
	tm := start(t, src)
	tm.Send(press("enter"))
	waitFor(t, tm, "seq 8")
	m, view := final(t, tm)
	if m.mode != modeDetail {
		t.Fatalf("mode %v, want details", m.mode)
	}
	golden.RequireEqual(t, []byte(view))
}

func TestDetailBackWithEsc(t *testing.T) {
	tm := start(t, fixture())
	tm.Send(press("enter"))
	tm.Send(press("esc"))
	if m, _ := final(t, tm); m.mode != modeMain {
		t.Fatalf("mode %v after esc, want main", m.mode)
	}
}

func TestSelectionMovesAndClamps(t *testing.T) {
	src := fixture()
	tm := start(t, src)
	for range 5 {
		tm.Send(press("j"))
	}
	tm.Send(press("up"))
	m, view := final(t, tm)
	if want := src.st.Caps[1].Cap; m.selected != want {
		t.Fatalf("selected %q, want the second cap", m.selected)
	}
	if !strings.Contains(view, "> photos") {
		t.Errorf("second row not marked selected:\n%s", view)
	}
}

func TestPauseRefreshRemove(t *testing.T) {
	src := fixture()
	first := src.st.Caps[0].Cap
	tm := start(t, src)
	tm.Send(press("p")) // pause the first cap; the selection follows it
	waitFor(t, tm, "paused")
	tm.Send(press("r"))
	waitFor(t, tm, "notes.txt is paused, so not refreshed")
	tm.Send(press("d"))
	waitFor(t, tm, "remove notes.txt from the watch list?")
	tm.Send(press("y"))
	waitFor(t, tm, "removed notes.txt")
	m, view := final(t, tm)
	want := []string{"pause " + first, "refresh", "remove " + first}
	if got := src.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if strings.Contains(view, "> notes.txt") || strings.Contains(view, "  notes.txt") || !strings.Contains(view, "photos") {
		t.Errorf("wrong caps shown after removing the first:\n%s", view)
	}
	if len(m.rows()) != 2 {
		t.Errorf("%d rows, want 2", len(m.rows()))
	}
}

func TestResume(t *testing.T) {
	src := fixture()
	paused := src.st.Paused[0]
	tm := start(t, src)
	tm.Send(press("j"))
	tm.Send(press("j"))
	tm.Send(press("p"))
	waitFor(t, tm, "resumed")
	final(t, tm)
	if got := src.Calls(); !slices.Equal(got, []string{"resume " + paused}) {
		t.Fatalf("calls %q", got)
	}
}

func TestFilter(t *testing.T) {
	src := fixture()
	tm := start(t, src)
	tm.Send(press("/"))
	tm.Type("DIR2") // matches the cap of photos only
	tm.Send(press("enter"))
	_, view := final(t, tm)
	if !strings.Contains(view, "filter: DIR2") || !strings.Contains(view, "> photos") {
		t.Fatalf("filter not applied:\n%s", view)
	}
	if strings.Contains(view, "notes.txt") || strings.Contains(view, "todo.txt") {
		t.Errorf("filtered-out caps shown:\n%s", view)
	}
}

func TestFilterEscClears(t *testing.T) {
	tm := start(t, fixture())
	tm.Send(press("/"))
	tm.Type("nothing matches")
	tm.Send(press("esc"))
	if m, _ := final(t, tm); m.filter != "" || len(m.rows()) != 3 {
		t.Fatalf("filter %q, %d rows after esc", m.filter, len(m.rows()))
	}
}

func TestHelpToggles(t *testing.T) {
	tm := start(t, fixture())
	tm.Send(press("?"))
	waitFor(t, tm, "select up")
	tm.Send(press("?"))
	m, view := final(t, tm)
	if m.showHelp || strings.Contains(view, "select up") {
		t.Fatalf("help still shown:\n%s", view)
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []tea.KeyMsg{press("q"), {Type: tea.KeyCtrlC}} {
		tm := start(t, fixture())
		tm.Send(k)
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	}
}

func TestQTypesInPrompt(t *testing.T) {
	tm := start(t, fixture())
	tm.Send(press("/"))
	tm.Type("q")
	if m, _ := final(t, tm); m.filter != "q" {
		t.Fatalf("filter %q, want q", m.filter)
	}
}

func TestMouseWheelScrollsLog(t *testing.T) {
	src := fixture()
	c := src.st.Caps[0].Cap
	for i := range 12 {
		src.ch <- events.Event{Type: events.Changed, Time: t0, Cap: c, Seqnum: uint64(100 + i), Via: events.ViaPoll}
	}
	tm := start(t, src)
	waitFor(t, tm, "seq 111")
	tm.Send(tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	tm.Send(tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	tm.Send(tea.MouseMsg{Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	m, view := final(t, tm)
	if m.logOff != 1 {
		t.Fatalf("log offset %d, want 1", m.logOff)
	}
	if strings.Contains(view, "seq 111") || !strings.Contains(view, "seq 110") || !strings.Contains(view, "1 newer above") {
		t.Errorf("scrolled log wrong:\n%s", view)
	}
}

func TestResize(t *testing.T) {
	src := fixture()
	sampleEvents(src)
	tm := start(t, src)
	for _, sz := range [][2]int{{120, 40}, {60, 15}, {80, 24}} {
		tm.Send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
	}
	tm.Send(tea.WindowSizeMsg{Width: 50, Height: 12})
	m, _ := final(t, tm)
	for _, sz := range [][2]int{{50, 12}, {120, 40}, {80, 24}} {
		m.width, m.height = sz[0], sz[1]
		for _, mode := range []mode{modeMain, modeDetail} {
			m.mode = mode
			lines := strings.Split(m.View(), "\n")
			if len(lines) != sz[1] {
				t.Errorf("%dx%d mode %d: %d lines", sz[0], sz[1], mode, len(lines))
			}
			for _, l := range lines {
				if w := lipgloss.Width(l); w > sz[0] {
					t.Errorf("%dx%d mode %d: line %d wide: %q", sz[0], sz[1], mode, w, l)
				}
			}
		}
	}
}

func TestAddReducesWriteCap(t *testing.T) {
	src := fixture()
	w := fixedCap(200, false)
	tm := start(t, src)
	tm.Send(press("a"))
	tm.Type(w.String()) // one key at a time, as typed
	waitFor(t, tm, "URI:SSK-RO:")
	tm.Send(press("enter"))
	waitFor(t, tm, "added")
	m, _ := final(t, tm)
	want := "add " + readCap(w)
	if got := src.Calls(); !slices.Equal(got, []string{want}) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if m.selected != readCap(w) {
		t.Errorf("new cap not selected")
	}
}

func TestAddPasteReducesAtOnce(t *testing.T) {
	w := fixedCap(201, true)
	tm := start(t, fixture())
	tm.Send(press("a"))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(w.String()), Paste: true})
	m, _ := final(t, tm)
	if got := m.input.Value(); got != readCap(w) {
		t.Fatalf("prompt holds %q, want the read cap", got)
	}
}

func TestAddRejectsNonCap(t *testing.T) {
	src := fixture()
	tm := start(t, src)
	tm.Send(press("a"))
	tm.Type("not a cap")
	tm.Send(press("enter"))
	_, view := final(t, tm)
	if len(src.Calls()) != 0 || !strings.Contains(view, "not added") {
		t.Fatalf("calls %q, view:\n%s", src.Calls(), view)
	}
}

// TestNoWriteCapRendered feeds write caps through the prompt and through
// events and checks that nothing ever written to the terminal holds one.
func TestNoWriteCapRendered(t *testing.T) {
	src := fixture()
	typed, evCap, errCap := fixedCap(150, false), fixedCap(160, true), fixedCap(170, false)
	secrets := []string{typed.String(), evCap.String(), errCap.String(),
		base32.Encode(typed.Writekey), base32.Encode(evCap.Writekey), base32.Encode(errCap.Writekey)}
	src.ch <- events.Event{Type: events.Changed, Time: t0, Cap: evCap.String(), Root: evCap.String(), Seqnum: 2, Via: events.ViaPush}
	src.ch <- events.Event{Type: events.Warning, Time: t0, Cap: evCap.String(), Message: "about " + errCap.String()}
	src.st.Servers[2].LastError = "bad " + errCap.String()
	tm := start(t, src)
	var out bytes.Buffer
	tm.Send(press("a"))
	tm.Type(typed.String()[:30]) // partly typed: masked
	tm.Type(typed.String()[30:])
	tm.Send(press("enter"))
	waitFor(t, tm, "added")
	tm.Send(press("/"))
	tm.Type("URI")
	tm.Send(press("enter"))
	tm.Send(press("enter"))
	tm.Send(press("esc"))
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	io.Copy(&out, tm.FinalOutput(t))
	m := tm.FinalModel(t).(*Model)
	all := out.String()
	for _, w := range []int{80, 400} {
		m.width = w
		m.mode = modeMain
		all += m.View()
		m.mode = modeDetail
		all += m.View()
	}
	secrets = append(secrets, writePrefixes...) // even an abbreviated write cap
	for _, s := range secrets {
		if strings.Contains(all, s) {
			i := strings.Index(all, s)
			t.Errorf("output holds a write cap or write key %q: %q", s[:min(12, len(s))], all[max(0, i-80):min(len(all), i+60)])
		}
	}
	if !strings.Contains(all, readCap(evCap)[:20]) {
		t.Errorf("event's read cap not shown")
	}
}

// TestHelpNamesEveryLetterKey: the ? screen names every letter a binding
// answers to (b and f page, y copies), not only the first.
func TestHelpNamesEveryLetterKey(t *testing.T) {
	for _, col := range defaultKeys().FullHelp() {
		for _, b := range col {
			for _, k := range b.Keys() {
				if len(k) == 1 && k != " " && !strings.Contains(b.Help().Key, k) {
					t.Errorf("help %q for %q does not name key %q", b.Help().Key, b.Help().Desc, k)
				}
			}
		}
	}
}

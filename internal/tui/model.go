package tui

import (
	"context"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// Options configure a Model.
type Options struct {
	// Now is the clock for relative times; default time.Now.
	Now func() time.Time
	// Renderer styles the output; default lipgloss.DefaultRenderer(),
	// which honours NO_COLOR.
	Renderer *lipgloss.Renderer
	// Tick is how often the status is re-read; default one second.
	Tick time.Duration
	// Timeout bounds each action (add, refresh, servermap); default 30s.
	Timeout time.Duration
	// Saved, if set, is called with the watched read caps after a cap is
	// added or removed, to remember them.
	Saved func(readCaps []string) error
	// Caps, if set, lists the watched read caps for Saved.
	Caps func() []string
}

// maxLog bounds the event log.
const maxLog = 1000

type mode int

const (
	modeMain mode = iota
	modeDetail
	modeAdd
	modeFilter
)

// capInfo is what the event log told about one cap.
type capInfo struct {
	changed time.Time
	via     events.Via
	warning string // state from the last warning, until the next change
}

// Model is the dashboard's bubbletea model.
type Model struct {
	src    Source
	opts   Options
	st     styles
	keys   keyMap
	help   help.Model
	input  textinput.Model
	width  int
	height int

	status Status
	info   map[string]*capInfo
	smaps  map[string]smapMsg
	log    []events.Event // newest first
	logOff int

	mode     mode
	selected string // read cap of the selected row
	filter   string
	showHelp bool
	flash    string
}

// New returns a model showing src.
func New(src Source, o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.DefaultRenderer()
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = 512
	m := &Model{src: src, opts: o, st: newStyles(o.Renderer), keys: defaultKeys(), help: help.New(),
		input: in, width: 80, height: 24, info: map[string]*capInfo{}, smaps: map[string]smapMsg{}}
	m.status = src.Status()
	if rows := m.rows(); len(rows) > 0 {
		m.selected = rows[0].cap
	}
	return m
}

type (
	tickMsg  time.Time
	eventMsg events.Event
	smapMsg  struct {
		cap string
		m   *mapupdate.Map
		err error
	}
	doneMsg struct {
		what  string
		err   error
		saved bool // the cap list changed: save it
	}
)

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.waitEvent(), m.tick(), m.fetchMap(m.selected))
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Tick, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *Model) waitEvent() tea.Cmd {
	ch := m.src.Events()
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return nil
		}
		return eventMsg(e)
	}
}

func (m *Model) fetchMap(c string) tea.Cmd {
	if c == "" {
		return nil
	}
	src, timeout := m.src, m.opts.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sm, err := src.ServerMap(ctx, c)
		return smapMsg{cap: c, m: sm, err: err}
	}
}

// do runs an action on the source in the background.
func (m *Model) do(what string, saved bool, f func(ctx context.Context) error) tea.Cmd {
	timeout := m.opts.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return doneMsg{what: what, err: f(ctx), saved: saved}
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case tickMsg:
		m.refreshStatus()
		return m, m.tick()
	case eventMsg:
		return m, tea.Batch(m.waitEvent(), m.record(events.Event(msg)))
	case smapMsg:
		m.smaps[msg.cap] = msg
		return m, nil
	case doneMsg:
		return m, m.done(msg)
	case tea.MouseMsg:
		return m, m.mouse(msg)
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m *Model) refreshStatus() {
	m.status = m.src.Status()
	rows := m.rows()
	for _, r := range rows {
		if r.cap == m.selected {
			return
		}
	}
	m.selected = ""
	if len(rows) > 0 {
		m.selected = rows[0].cap
	}
}

// record adds an event to the log and to its cap's info.
func (m *Model) record(e events.Event) tea.Cmd {
	e.Cap, e.Root = ReadOnly(e.Cap), ReadOnly(e.Root)
	e.Contents, e.Message, e.Server = nil, scrub(e.Message), scrub(e.Server)
	m.log = append([]events.Event{e}, m.log...)
	if len(m.log) > maxLog {
		m.log = m.log[:maxLog]
	}
	if m.logOff > 0 {
		m.logOff++ // keep the lines being read in place
	}
	in := m.info[e.Cap]
	if in == nil {
		in = &capInfo{}
		m.info[e.Cap] = in
	}
	switch {
	case e.Type.IsChange():
		in.changed, in.via, in.warning = e.Time, e.Via, ""
	case e.Warning == events.WarnUncoordinated:
		in.warning = "uncoordinated write"
	case e.Warning == events.WarnUnrecoverableNewer:
		in.warning = "unrecoverable newer"
	}
	m.refreshStatus()
	if e.Cap == m.selected {
		return m.fetchMap(e.Cap)
	}
	return nil
}

func (m *Model) done(d doneMsg) tea.Cmd {
	m.refreshStatus()
	if d.err != nil {
		m.flash = d.what + ": " + scrub(d.err.Error())
		return nil
	}
	m.flash = d.what
	if d.saved && m.opts.Saved != nil && m.opts.Caps != nil {
		if err := m.opts.Saved(m.opts.Caps()); err != nil {
			m.flash = d.what + "; not saved: " + scrub(err.Error())
		}
	}
	return m.fetchMap(m.selected)
}

// scrub keeps write caps out of a message.
func scrub(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if looksWrite(w) {
			f[i] = ReadOnly(strings.Trim(w, `"'(),;`))
		}
	}
	return strings.Join(f, " ")
}

func (m *Model) mouse(msg tea.MouseMsg) tea.Cmd {
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		m.scroll(-1)
	case tea.MouseButtonWheelDown:
		m.scroll(1)
	}
	return nil
}

// scroll moves the event log view by n lines towards older events.
func (m *Model) scroll(n int) {
	m.logOff = max(0, min(m.logOff+n, len(m.filteredLog())-1))
}

func (m *Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Quit) && (msg.String() == "ctrl+c" || m.mode != modeAdd && m.mode != modeFilter) {
		return m, tea.Quit
	}
	switch m.mode {
	case modeAdd:
		return m, m.keyAdd(msg)
	case modeFilter:
		return m, m.keyFilter(msg)
	case modeDetail:
		if key.Matches(msg, m.keys.Back) || msg.String() == "backspace" {
			m.mode = modeMain
			return m, nil
		}
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
	case key.Matches(msg, k.Back):
		m.showHelp, m.flash = false, ""
	case key.Matches(msg, k.Up):
		return m, m.move(-1)
	case key.Matches(msg, k.Down):
		return m, m.move(1)
	case key.Matches(msg, k.PageUp):
		m.scroll(5)
	case key.Matches(msg, k.PageDown):
		m.scroll(-5)
	case key.Matches(msg, k.Add):
		m.mode, m.flash = modeAdd, ""
		m.input.SetValue("")
		m.input.Placeholder = "URI:SSK-RO:… (a write cap is reduced to its read cap)"
		m.input.EchoMode = textinput.EchoNormal
		return m, m.input.Focus()
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
		m.input.SetValue(m.filter)
		m.input.Placeholder = "text in a name, cap or event"
		m.input.EchoMode = textinput.EchoNormal
		return m, m.input.Focus()
	case key.Matches(msg, k.Details):
		if m.selected != "" {
			m.mode = modeDetail
			return m, m.fetchMap(m.selected)
		}
	case key.Matches(msg, k.Remove):
		return m, m.onSelected("removed", true, m.src.Remove)
	case key.Matches(msg, k.Pause):
		if m.isPaused(m.selected) {
			return m, m.onSelected("resumed", false, m.src.Resume)
		}
		return m, m.onSelected("paused", false, m.src.Pause)
	case key.Matches(msg, k.Refresh):
		m.flash = "refreshing…"
		return m, m.do("refreshed", false, m.src.Refresh)
	}
	return m, nil
}

func (m *Model) onSelected(what string, saved bool, f func(context.Context, string) error) tea.Cmd {
	c := m.selected
	if c == "" {
		return nil
	}
	return m.do(what, saved, func(ctx context.Context) error { return f(ctx, c) })
}

// move changes the selection by d rows.
func (m *Model) move(d int) tea.Cmd {
	rows := m.rows()
	if len(rows) == 0 {
		return nil
	}
	i := max(0, min(m.selectedIndex(rows)+d, len(rows)-1))
	m.selected = rows[i].cap
	if _, ok := m.smaps[m.selected]; ok {
		return nil
	}
	return m.fetchMap(m.selected)
}

func (m *Model) keyAdd(msg tea.KeyMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		m.mode = modeMain
		m.input.Blur()
		return nil
	case "enter":
		m.mode = modeMain
		m.input.Blur()
		text := strings.TrimSpace(m.input.Value())
		m.input.SetValue("")
		c, err := cap.Parse(text)
		if err != nil {
			m.flash = "not added: " + scrub(err.Error())
			return nil
		}
		c = c.ReadOnly()
		m.selected = c.String()
		return m.do("added "+name(c.String(), ""), true, func(ctx context.Context) error { return m.src.Add(ctx, c) })
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.reduceInput()
	return cmd
}

// reduceInput replaces a complete write cap in the prompt by its read cap
// and masks the prompt while it may hold part of one.
func (m *Model) reduceInput() {
	v := strings.TrimSpace(m.input.Value())
	if c, err := cap.Parse(v); err == nil && !c.IsReadOnly() {
		m.input.SetValue(c.ReadOnly().String())
		m.input.CursorEnd()
		v = m.input.Value()
	}
	if looksWrite(v) {
		m.input.EchoMode = textinput.EchoPassword
	} else {
		m.input.EchoMode = textinput.EchoNormal
	}
}

func (m *Model) keyFilter(msg tea.KeyMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		m.filter = ""
		m.mode = modeMain
		m.input.Blur()
		return nil
	case "enter":
		m.mode = modeMain
		m.input.Blur()
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.filter = m.input.Value()
	m.logOff = 0
	return cmd
}

func (m *Model) isPaused(c string) bool {
	for _, p := range m.status.Paused {
		if p == c {
			return true
		}
	}
	return false
}

// row is one watched (or paused) cap as shown.
type row struct {
	cap    string
	name   string
	paused bool
	cs     watcher.CapStatus
}

// rows lists the caps the filter lets through: the watcher's, then the
// paused ones.
func (m *Model) rows() []row {
	var out []row
	for _, cs := range m.status.Caps {
		c := ReadOnly(cs.Cap)
		out = append(out, row{cap: c, name: name(c, cs.Path), cs: cs})
	}
	for _, p := range m.status.Paused {
		c := ReadOnly(p)
		out = append(out, row{cap: c, name: name(c, ""), paused: true})
	}
	if m.filter == "" {
		return out
	}
	kept := out[:0]
	for _, r := range out {
		if contains(r.name, m.filter) || contains(r.cap, m.filter) {
			kept = append(kept, r)
		}
	}
	return kept
}

func (m *Model) selectedIndex(rows []row) int {
	for i, r := range rows {
		if r.cap == m.selected {
			return i
		}
	}
	return 0
}

// filteredLog is the event log the filter lets through.
func (m *Model) filteredLog() []events.Event {
	if m.filter == "" {
		return m.log
	}
	var out []events.Event
	for _, e := range m.log {
		if contains(eventLine(e), m.filter) || contains(e.Cap, m.filter) {
			out = append(out, e)
		}
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// name is how a cap is named in a row: its path, else its short cap.
func name(c, path string) string {
	if path != "" {
		return path
	}
	return events.ShortCap(ReadOnly(c))
}

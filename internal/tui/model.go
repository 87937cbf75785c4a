package tui

import (
	"cmp"
	"context"
	"maps"
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
	// FlashFor is how long a message replaces the key hints; default 5s.
	FlashFor time.Duration
	// Saved, if set, is called with the watched targets after a cap is
	// added or removed, to remember them.
	Saved func([]Target) error
	// Targets, if set, lists the watched targets for Saved.
	Targets func() []Target
	// Resolve turns what was typed at the add prompt (CAP[/PATH] [NAME])
	// into a target; default: a cap without a path, and its name.
	Resolve func(ctx context.Context, text string) (Target, error)
	// Copy puts text on the clipboard; nil: copying is not available.
	Copy func(string) error
}

// maxLog bounds the event log; maxView the file contents shown.
const (
	maxLog  = 1000
	maxView = 64 << 10
)

type mode int

const (
	modeMain mode = iota
	modeDetail
	modeAdd
	modeFilter
	modeConfirm // remove the selected cap?
	modePager   // text: a file's contents or messages in full
)

// capInfo is what the event log told about one cap.
type capInfo struct {
	changed time.Time
	via     events.Via
	warning string // state from the last warning, until the next change
}

// pager is the text shown in modePager.
type pager struct {
	title string
	lines []string
	off   int
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
	sortBy   sortKey
	showHelp bool
	pager    pager
	confirm  string // the read cap d asks about
	flash    string
	flashID  int
	messages []string // every message shown, newest last, for e
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
	if o.FlashFor <= 0 {
		o.FlashFor = 5 * time.Second
	}
	if o.Resolve == nil {
		o.Resolve = parseTarget
	}
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = 1024
	st := newStyles(o.Renderer)
	m := &Model{src: src, opts: o, st: st, keys: defaultKeys(), help: newHelp(st),
		input: in, width: 80, height: 24, info: map[string]*capInfo{}, smaps: map[string]smapMsg{}}
	m.status = src.Status()
	if rows := m.rows(); len(rows) > 0 {
		m.selected = rows[0].cap
	}
	return m
}

// newHelp is the key help in the model's styles. (help.New's adaptive
// colours ask the terminal for its background, which stalls a terminal
// that does not answer, and ignore the model's renderer.)
func newHelp(st styles) help.Model {
	h := help.New()
	h.Styles = help.Styles{Ellipsis: st.dim, ShortKey: st.title, ShortDesc: st.dim, ShortSeparator: st.dim,
		FullKey: st.title, FullDesc: st.dim, FullSeparator: st.dim}
	return h
}

// parseTarget is the default Resolve: a cap and a name, no path.
func parseTarget(_ context.Context, text string) (Target, error) {
	arg, name, _ := strings.Cut(strings.TrimSpace(text), " ")
	c, err := cap.Parse(arg)
	if err != nil {
		return Target{}, err
	}
	return Target{Cap: c.ReadOnly(), Name: strings.TrimSpace(name)}, nil
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
		what     string
		err      error
		saved    bool   // the cap list changed: save it
		selected string // select this cap
	}
	readMsg struct {
		cap, name string
		data      []byte
		err       error
	}
	flashDone int
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

// do runs an action in the background; it must not touch the model.
func (m *Model) do(f func(ctx context.Context) doneMsg) tea.Cmd {
	timeout := m.opts.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return f(ctx)
	}
}

// say shows a message in place of the key hints for a while; e shows it
// whole later.
func (m *Model) say(s string) tea.Cmd {
	m.flash = s
	m.messages = append(m.messages, m.opts.Now().Format("15:04:05")+"  "+s)
	if len(m.messages) > 100 {
		m.messages = m.messages[1:]
	}
	m.flashID++
	id := m.flashID
	return tea.Tick(m.opts.FlashFor, func(time.Time) tea.Msg { return flashDone(id) })
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if msg.Width <= 0 || msg.Height <= 0 {
			return m, nil // a terminal that does not know its size: keep 80×24
		}
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
	case readMsg:
		return m, m.showContents(msg)
	case flashDone:
		if int(msg) == m.flashID {
			m.flash = ""
		}
		return m, nil
	case tea.MouseMsg:
		return m, m.mouse(msg)
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m *Model) refreshStatus() {
	m.status = m.src.Status()
	m.reselect()
}

// reselect keeps the selection on a row shown, else the first.
func (m *Model) reselect() {
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
		return m.say(d.what + ": " + scrub(d.err.Error()))
	}
	if d.selected != "" {
		m.selected = d.selected
	}
	what := d.what
	if d.saved && m.opts.Saved != nil && m.opts.Targets != nil {
		if err := m.opts.Saved(m.opts.Targets()); err != nil {
			what += "; not saved: " + scrub(err.Error())
		}
	}
	return tea.Batch(m.say(what), m.fetchMap(m.selected))
}

// scrub keeps write caps out of a message.
func scrub(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if looksWrite(w) {
			f[i] = ReadOnly(strings.Trim(w, `"'(),;`))
		}
	}
	return printable(strings.Join(f, " "))
}

func (m *Model) mouse(msg tea.MouseMsg) tea.Cmd {
	d := 0
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		d = -1
	case tea.MouseButtonWheelDown:
		d = 1
	}
	if m.mode == modePager {
		m.pagerScroll(d)
	} else {
		m.scroll(d)
	}
	return nil
}

// scroll moves the event log view by n lines towards older events.
func (m *Model) scroll(n int) {
	m.logOff = max(0, min(m.logOff+n, len(m.filteredLog())-1))
}

func (m *Model) pagerScroll(n int) {
	m.pager.off = max(0, min(m.pager.off+n, len(m.pager.lines)-1))
}

func (m *Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	typing := m.mode == modeAdd || m.mode == modeFilter || m.mode == modeConfirm // q is an answer there
	if key.Matches(msg, m.keys.Quit) && (msg.String() == "ctrl+c" || !typing) {
		return m, tea.Quit
	}
	switch m.mode {
	case modeAdd:
		return m, m.keyAdd(msg)
	case modeFilter:
		return m, m.keyFilter(msg)
	case modeConfirm:
		return m, m.keyConfirm(msg)
	case modePager:
		return m, m.keyPager(msg)
	case modeDetail:
		if key.Matches(msg, m.keys.Back) || msg.String() == "backspace" {
			m.mode = modeMain
			return m, nil
		}
	}
	return m, m.keyMain(msg)
}

func (m *Model) keyMain(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
	case key.Matches(msg, k.Back):
		m.back()
	case key.Matches(msg, k.Up):
		return m.move(-1)
	case key.Matches(msg, k.Down):
		return m.move(1)
	case key.Matches(msg, k.PageUp):
		m.scroll(5)
	case key.Matches(msg, k.PageDown):
		m.scroll(-5)
	case key.Matches(msg, k.Add):
		m.startAdd()
		return m.input.Focus()
	case key.Matches(msg, k.Filter):
		m.prompt(modeFilter, m.filter, "text in a name, cap or event")
		return m.input.Focus()
	case key.Matches(msg, k.Details):
		if m.selected != "" {
			m.mode = modeDetail
			return m.fetchMap(m.selected)
		}
	case key.Matches(msg, k.Remove):
		return m.askRemove()
	case key.Matches(msg, k.Pause):
		return m.pause()
	case key.Matches(msg, k.Refresh):
		return m.refresh()
	case key.Matches(msg, k.View):
		return m.view()
	case key.Matches(msg, k.Copy):
		return m.copyCap()
	case key.Matches(msg, k.Sort):
		m.sortBy = (m.sortBy + 1) % sortKeys
		return m.say("sorted by " + m.sortBy.String())
	case key.Matches(msg, k.Errors):
		m.showErrors()
	}
	return nil
}

// back is Esc on the main view: it closes the help, then the message,
// then clears the filter.
func (m *Model) back() {
	switch {
	case m.showHelp:
		m.showHelp = false
	case m.flash != "":
		m.flash = ""
	default:
		m.filter, m.logOff = "", 0
		m.reselect()
	}
}

func (m *Model) prompt(md mode, value, placeholder string) {
	m.mode, m.flash = md, ""
	m.input.SetValue(value)
	m.input.Placeholder = placeholder
	m.input.EchoMode = textinput.EchoNormal
}

func (m *Model) startAdd() {
	m.prompt(modeAdd, "", "CAP[/PATH] [NAME]  (a write cap is reduced to its read cap)")
}

// selectedRow returns the selected row, if any is.
func (m *Model) selectedRow() (row, bool) {
	for _, r := range m.rows() {
		if r.cap == m.selected {
			return r, true
		}
	}
	return row{}, false
}

// rootOnly refuses an action on a row found below a watched directory:
// the watcher adds, pauses and removes the caps it was given.
func (m *Model) rootOnly(what string) (row, tea.Cmd, bool) {
	r, ok := m.selectedRow()
	if !ok {
		return r, nil, false
	}
	if r.child {
		return r, m.say(r.name + " is inside " + r.rootName + ": select " + r.rootName + " to " + what + " it"), false
	}
	return r, nil, true
}

func (m *Model) askRemove() tea.Cmd {
	r, cmd, ok := m.rootOnly("remove")
	if !ok {
		return cmd
	}
	m.mode, m.confirm, m.flash = modeConfirm, r.cap, ""
	return nil
}

func (m *Model) keyConfirm(msg tea.KeyMsg) tea.Cmd {
	m.mode = modeMain
	c := m.confirm
	m.confirm = ""
	if msg.String() != "y" && msg.String() != "Y" {
		return m.say("not removed")
	}
	label := m.label(c)
	src := m.src
	return m.do(func(ctx context.Context) doneMsg {
		return doneMsg{what: "removed " + label, err: src.Remove(ctx, c), saved: true}
	})
}

func (m *Model) pause() tea.Cmd {
	r, cmd, ok := m.rootOnly("pause")
	if !ok {
		return cmd
	}
	src, c := m.src, r.cap
	if r.paused {
		return m.do(func(ctx context.Context) doneMsg {
			return doneMsg{what: "resumed " + r.name, err: src.Resume(ctx, c)}
		})
	}
	return m.do(func(ctx context.Context) doneMsg {
		return doneMsg{what: "paused " + r.name + " (p resumes it)", err: src.Pause(ctx, c)}
	})
}

// refresh starts re-mapping every cap; the message says so honestly, and
// that a paused selection is not among them.
func (m *Model) refresh() tea.Cmd {
	what := "refresh started: every server resubscribed, every cap re-mapped"
	if r, ok := m.selectedRow(); ok && r.paused {
		what = "refresh started; " + r.name + " is paused, so not refreshed (p resumes it)"
	}
	src := m.src
	return tea.Batch(m.say("refreshing…"), m.do(func(ctx context.Context) doneMsg {
		return doneMsg{what: what, err: src.Refresh(ctx)}
	}))
}

// view reads the selected file for the pager.
func (m *Model) view() tea.Cmd {
	r, ok := m.selectedRow()
	switch {
	case !ok:
		return nil
	case r.dir:
		return m.say(r.name + " is a directory: -r shows a row for each mutable in it; tahoe-watch ls lists it")
	case r.cs.Known && r.cs.Size > maxView:
		return m.say(r.name + " is too large to view here: tahoe-watch cat reads it")
	}
	src, c, name := m.src, r.cap, r.name
	timeout := m.opts.Timeout
	return tea.Batch(m.say("reading "+name+"…"), func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		b, err := src.Read(ctx, c, maxView)
		return readMsg{cap: c, name: name, data: b, err: err}
	})
}

func (m *Model) showContents(r readMsg) tea.Cmd {
	if r.err != nil {
		return m.say("cannot view " + r.name + ": " + scrub(r.err.Error()))
	}
	m.flash = ""
	m.mode = modePager
	m.pager = pager{title: r.name + " (" + plural(len(r.data), "byte") + ")", lines: textLines(r.data)}
	return nil
}

// showErrors opens the pager on every error in full: the selected cap's,
// the servers' and the messages shown.
func (m *Model) showErrors() {
	var lines []string
	if r, ok := m.selectedRow(); ok && r.cs.Err != "" {
		lines = append(lines, "cap "+r.name+":", "  "+scrub(r.cs.Err), "")
	}
	for _, s := range m.status.Servers {
		if s.LastError != "" {
			lines = append(lines, "server "+printable(s.Name)+" ("+string(s.Mode)+"):", "  "+scrub(s.LastError), "")
		}
	}
	if len(m.messages) > 0 {
		lines = append(lines, "messages, newest last:")
		for _, s := range m.messages {
			lines = append(lines, "  "+s)
		}
	}
	if len(lines) == 0 {
		lines = []string{"no errors and no messages"}
	}
	m.mode, m.flash = modePager, ""
	m.pager = pager{title: "ERRORS AND MESSAGES, in full", lines: lines}
}

func (m *Model) keyPager(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Back), msg.String() == "backspace":
		m.mode = modeMain
	case key.Matches(msg, k.Up):
		m.pagerScroll(-1)
	case key.Matches(msg, k.Down):
		m.pagerScroll(1)
	case key.Matches(msg, k.PageUp):
		m.pagerScroll(-(m.height - 3))
	case key.Matches(msg, k.PageDown):
		m.pagerScroll(m.height - 3)
	}
	return nil
}

// copyCap puts the selected row's read cap on the clipboard.
func (m *Model) copyCap() tea.Cmd {
	r, ok := m.selectedRow()
	if !ok {
		return nil
	}
	if m.opts.Copy == nil {
		return m.say("no clipboard here; the read cap is in the details (enter)")
	}
	if err := m.opts.Copy(ReadOnly(r.cap)); err != nil {
		return m.say("not copied: " + scrub(err.Error()))
	}
	return m.say("copied the read cap of " + r.name + " (OSC 52: your terminal must allow it)")
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
		return m.add(text)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.reduceInput()
	return cmd
}

// add checks the typed text at once, then resolves and adds it in the
// background, saying whether it was new.
func (m *Model) add(text string) tea.Cmd {
	arg, _, _ := strings.Cut(text, " ")
	s, _, err := cap.SplitPath(arg)
	if err == nil {
		_, err = cap.Parse(s)
	}
	if err != nil {
		return m.say("not added: " + scrub(err.Error()))
	}
	resolve, src, names := m.opts.Resolve, m.src, maps.Clone(m.status.Names)
	return tea.Batch(m.say("adding…"), m.do(func(ctx context.Context) doneMsg {
		t, err := resolve(ctx, text)
		if err != nil {
			return doneMsg{what: "not added", err: err}
		}
		c := ReadOnly(t.Cap.String())
		label := cmp.Or(printable(t.Name), names[c])
		if label == "" {
			label = events.ShortCap(c)
		}
		res, err := src.Add(ctx, t)
		if err != nil {
			return doneMsg{what: "not added", err: err}
		}
		switch res {
		case AlreadyWatched:
			return doneMsg{what: label + " is already watched", selected: c, saved: t.Name != ""}
		case Resumed:
			return doneMsg{what: label + " was paused: resumed", selected: c}
		}
		return doneMsg{what: "added " + label, saved: true, selected: c}
	}))
}

// reduceInput replaces a complete write cap in the prompt by its read cap
// (keeping a path or name after it) and masks the prompt while it may
// hold part of one.
func (m *Model) reduceInput() {
	v := strings.TrimSpace(m.input.Value())
	end := len(v)
	if i := strings.IndexAny(v, "/ "); i >= 0 {
		end = i
	}
	if c, err := cap.Parse(v[:end]); err == nil && !c.IsReadOnly() {
		m.input.SetValue(c.ReadOnly().String() + v[end:])
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
	m.reselect()
	if _, ok := m.smaps[m.selected]; ok {
		return cmd
	}
	return tea.Batch(cmd, m.fetchMap(m.selected))
}

package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// styles are the dashboard's lipgloss styles, from one renderer so that
// NO_COLOR (or a test's Ascii profile) applies to all of them.
type styles struct {
	title, header, selected, dim, ok, warn, bad, flash lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	return styles{
		title:    r.NewStyle().Bold(true),
		header:   r.NewStyle().Bold(true).Underline(true),
		selected: r.NewStyle().Reverse(true),
		dim:      r.NewStyle().Faint(true),
		ok:       r.NewStyle().Foreground(lipgloss.Color("2")),
		warn:     r.NewStyle().Foreground(lipgloss.Color("3")),
		bad:      r.NewStyle().Foreground(lipgloss.Color("1")),
		flash:    r.NewStyle().Italic(true),
	}
}

// View implements tea.Model.
func (m *Model) View() string {
	var lines []string
	switch m.mode {
	case modeDetail:
		lines = m.detailView()
	case modePager:
		lines = m.pagerView()
	default:
		lines = m.mainView()
	}
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	lines = append(lines[:max(0, min(len(lines), m.height-1))], m.footer())
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.width, "…")
	}
	return strings.Join(lines, "\n")
}

// fit pads or truncates plain text s to width w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	return s + strings.Repeat(" ", w-ansi.StringWidth(s))
}

// cols joins fitted columns with single spaces; the last one takes the
// rest of width.
func cols(width int, ws []int, vals ...string) string {
	var b strings.Builder
	used := 0
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(' ')
			used++
		}
		w := width - used
		if i < len(ws) {
			w = min(ws[i], w)
		}
		b.WriteString(fit(v, w))
		used += w
	}
	return b.String()
}

// The layout of the main view: a title line, three sections (caps,
// servers, events) each with a header line, and the footer.
func (m *Model) sectionRows(ncaps, nservers int) (capRows, srvRows, evRows int) {
	avail := max(m.height-2-3, 3)
	capRows = min(max(ncaps, 1), max(2, avail/3))
	srvRows = min(max(nservers, 1), max(1, avail/3))
	evRows = max(avail-capRows-srvRows, 1)
	return
}

func (m *Model) mainView() []string {
	rows := m.rows()
	capRows, srvRows, evRows := m.sectionRows(len(rows), len(m.status.Servers))
	if m.showHelp {
		evRows = 0
	}
	out := []string{m.titleLine()}
	out = append(out, m.capLines(rows, capRows)...)
	out = append(out, m.serverLines(srvRows)...)
	if m.showHelp {
		return append(out, strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n")...)
	}
	return append(out, m.eventLines(evRows)...)
}

func (m *Model) titleLine() string {
	var push, poll, down int
	for _, s := range m.status.Servers {
		switch s.Mode {
		case watcher.ModePush:
			push++
		case watcher.ModePoll:
			poll++
		case watcher.ModeDown:
			down++
		}
	}
	t := fmt.Sprintf("tahoe-watch  %d caps  %d servers: %d push, %d poll, %d down",
		len(m.status.Caps)+len(m.status.Paused), len(m.status.Servers), push, poll, down)
	if m.filter != "" {
		t += "  filter: " + m.filter + " (esc clears)"
	}
	t += "  sort: " + m.sortBy.String()
	return m.st.title.Render(fit(t, m.width))
}

var capWidths = []int{0, 6, 8, 19, 7}

func (m *Model) capLines(rows []row, n int) []string {
	ws := slices.Clone(capWidths)
	ws[0] = max(m.width-2-(6+8+19+7+4), 8)
	out := []string{m.st.header.Render("  " + cols(m.width-2, ws, "NAME", "SEQ", "CHANGED", "STATE", "VIA"))}
	if len(rows) == 0 {
		return append(out, m.st.dim.Render("  no caps watched: press a to add one"))
	}
	sel := m.selectedIndex(rows)
	start := max(0, min(sel-n+1, len(rows)-n))
	for i := start; i < min(start+n, len(rows)); i++ {
		r := rows[i]
		seq, changed, via := "-", "-", "-"
		if r.cs.Known {
			seq = strconv.FormatUint(r.cs.Seqnum, 10)
		}
		if in := m.info[r.cap]; in != nil && !in.changed.IsZero() {
			changed, via = m.ago(in.changed), string(in.via)
		} else if !r.cs.LastChange.IsZero() {
			changed, via = m.ago(r.cs.LastChange), string(r.cs.LastVia)
		}
		state, style := m.state(r)
		line := cols(m.width-2, ws, r.name, seq, changed, state, via)
		if i == sel {
			out = append(out, "> "+m.st.selected.Render(line))
			continue
		}
		out = append(out, "  "+style.Render(line))
	}
	return out
}

var serverWidths = []int{12, 10, 7, 7, 8, 7}

func (m *Model) serverLines(n int) []string {
	ws := slices.Clone(serverWidths)
	for _, s := range m.status.Servers { // as wide as the names, when there is room
		ws[0] = max(ws[0], min(ansi.StringWidth(s.Name)+1, 40, m.width-2-(10+7+7+8+7+5)-20))
	}
	out := []string{m.st.header.Render("  " + cols(m.width-2, ws, "SERVER", "MODE", "RTT", "NOTICES", "CONTACT", "SHARES", "LAST ERROR"))}
	holders := m.holders(m.selected)
	errWidth := m.width - 2
	for _, w := range ws {
		errWidth -= w + 1
	}
	for i, s := range m.status.Servers {
		if i == n {
			break
		}
		rtt, contact := "-", "-"
		if s.Latency > 0 {
			rtt = s.Latency.Round(time.Millisecond).String()
			if s.Latency < time.Millisecond {
				rtt = max(s.Latency, 10*time.Microsecond).Round(10 * time.Microsecond).String()
			}
		}
		if !s.LastContact.IsZero() {
			contact = m.ago(s.LastContact)
		}
		shares := "?"
		if holders != nil {
			shares = shareList(holders[s.ID])
		}
		style := m.st.ok
		switch s.Mode {
		case watcher.ModePoll, watcher.ModeConnecting:
			style = m.st.warn
		case watcher.ModeDown:
			style = m.st.bad
		}
		line := cols(m.width-2, ws, printable(s.Name), string(s.Mode), rtt, strconv.Itoa(s.Notices), contact, shares, fitError(scrub(s.LastError), errWidth))
		out = append(out, "  "+style.Render(line))
	}
	return out
}

// holders returns, by server ID, the share numbers of c's servermap; nil
// while no servermap is known.
func (m *Model) holders(c string) map[string][]int {
	sm, ok := m.smaps[c]
	if !ok || sm.m == nil {
		return nil
	}
	out := map[string][]int{}
	for _, r := range sm.m.Servers {
		out[r.ID] = r.Listed
	}
	return out
}

func shareList(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (m *Model) eventLines(n int) []string {
	log := m.filteredLog()
	title := "EVENTS (newest first)"
	if m.logOff > 0 {
		title = fmt.Sprintf("EVENTS (newest first, %d newer above)", m.logOff)
	}
	out := []string{m.st.header.Render("  " + fit(title, m.width-2))}
	if len(log) == 0 {
		return append(out, m.st.dim.Render("  no events yet"))
	}
	for i := m.logOff; i < min(len(log), m.logOff+n); i++ {
		style := m.st.ok
		if log[i].Type == events.Warning {
			style = m.st.warn
		}
		out = append(out, "  "+style.Render(fit(m.eventLine(log[i]), m.width-2)))
	}
	return out
}

// eventLine is the text printer's line for e, without its newline, with
// the cap named as its row is.
func (m *Model) eventLine(e events.Event) string {
	var b strings.Builder
	e.Cap = ReadOnly(e.Cap)
	switch n := m.status.Names[ReadOnly(e.Root)]; {
	case e.Path == "" && m.status.Names[e.Cap] != "":
		e.Path = m.status.Names[e.Cap]
	case e.Path != "" && n != "":
		e.Path = n + "/" + e.Path
	}
	events.Text{}.Print(&b, e)
	return printable(strings.TrimSuffix(b.String(), "\n"))
}

// ago is a short relative time.
func (m *Model) ago(t time.Time) string {
	d := m.opts.Now().Sub(t)
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func (m *Model) footer() string {
	switch m.mode {
	case modeAdd:
		return "add cap: " + m.inputView()
	case modeFilter:
		return "filter: " + m.inputView()
	case modeConfirm:
		return m.st.warn.Render(fit("remove "+m.label(m.confirm)+" from the watch list? y removes, any other key keeps it", m.width))
	}
	if m.flash != "" {
		f := m.flash
		if ansi.StringWidth(f) > m.width {
			f = ansi.Truncate(f, m.width-len(" … e: in full"), "") + " … e: in full"
		}
		return m.st.flash.Render(fit(f, m.width))
	}
	switch m.mode {
	case modeDetail:
		return m.help.ShortHelpView([]key.Binding{m.keys.Back, m.keys.Refresh, m.keys.Quit})
	case modePager:
		return m.help.ShortHelpView([]key.Binding{m.keys.Back, m.keys.Up, m.keys.Down, m.keys.Quit})
	}
	return m.help.ShortHelpView(m.keys.ShortHelp())
}

// inputView renders the prompt; a masked prompt shows only its length.
func (m *Model) inputView() string {
	if m.input.EchoMode == textinput.EchoPassword {
		return fmt.Sprintf("(write cap, %d characters: completing it reduces it to its read cap)", len(m.input.Value()))
	}
	return m.input.View()
}

// detailView shows one cap: its status and its servermap as a version ×
// server matrix of share numbers.
func (m *Model) detailView() []string {
	var r row
	for _, x := range m.rows() {
		if x.cap == m.selected {
			r = x
		}
	}
	state, _ := m.state(r)
	out := []string{
		m.st.title.Render(fit("DETAILS  "+r.name, m.width)),
		"cap        " + ReadOnly(m.selected),
		"state      " + state,
	}
	if r.cs.Known {
		out = append(out, fmt.Sprintf("seqnum     %d   size %d bytes", r.cs.Seqnum, r.cs.Size),
			"root hash  "+r.cs.RootHash)
	}
	if !r.cs.Checked.IsZero() {
		out = append(out, "checked    "+m.ago(r.cs.Checked))
	}
	if r.cs.Err != "" {
		out = append(out, "error      "+scrub(r.cs.Err))
	}
	return append(out, m.matrix()...)
}

// matrix renders the selected cap's servermap.
func (m *Model) matrix() []string {
	sm, ok := m.smaps[m.selected]
	switch {
	case !ok:
		return []string{"", "servermap: mapping…"}
	case sm.err != nil:
		return []string{"", "servermap: " + scrub(sm.err.Error())}
	}
	srv := sm.m.Servers
	label := 30
	cw := 8
	if len(srv) > 0 {
		cw = max(4, min(12, (m.width-label)/len(srv)))
	}
	head := fit("VERSION", label)
	for _, s := range srv {
		head += fit(printable(s.Name), cw-1) + " " // a space between names, however narrow
	}
	out := []string{"", m.st.header.Render("SERVERMAP  versions × servers: share numbers held"), head}
	if len(sm.m.Versions) == 0 {
		out = append(out, m.st.dim.Render("no shares found"))
	}
	for _, v := range sm.m.Versions {
		out = append(out, m.versionLine(sm.m, v, srv, label, cw))
	}
	for _, s := range srv {
		if s.Err != nil {
			out = append(out, m.st.bad.Render(fmt.Sprintf("%s: %s %s", printable(s.Name), s.Class, scrub(s.Err.Error()))))
		}
	}
	return out
}

func (m *Model) versionLine(sm *mapupdate.Map, v *mapupdate.Version, srv []*mapupdate.ServerResult, label, cw int) string {
	tag := ""
	switch {
	case v == sm.Best:
		tag = " best"
	case !v.Recoverable():
		tag = " <k"
	}
	rh := base32.Encode(v.ID.RootHash[:])[:6]
	line := fit(fmt.Sprintf("seq %d %s %d/%d %dB%s", v.ID.Seqnum, rh, v.ID.K, v.ID.N, v.ID.DataLength, tag), label)
	for _, s := range srv {
		var ns []int
		for _, sh := range v.Shares {
			if sh.Server == s {
				ns = append(ns, sh.Num)
			}
		}
		line += fit(shareList(ns), cw-1) + " "
	}
	style := m.st.ok
	if v != sm.Best {
		style = m.st.warn
	}
	return style.Render(line)
}

// pagerView shows the pager's text, wrapped to the width, from its
// offset.
func (m *Model) pagerView() []string {
	out := []string{m.st.title.Render(fit(m.pager.title, m.width))}
	var lines []string
	for _, l := range m.pager.lines {
		lines = append(lines, wrap(l, m.width)...)
	}
	n := max(1, m.height-2)
	off := min(m.pager.off, max(0, len(lines)-n))
	return append(out, lines[off:min(len(lines), off+n)]...)
}

// wrap breaks a line into pieces of at most w cells.
func wrap(l string, w int) []string {
	if w <= 0 {
		return nil
	}
	s := ansi.Wrap(l, w, "")
	return strings.Split(s, "\n")
}

// fitError is the error, or when it is wider than w its root cause.
func fitError(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	return shortError(s)
}

// shortError is an error's root cause for a column ("refused: a: b: c"
// shows "refused: c"); e shows the whole text.
func shortError(s string) string {
	i := strings.LastIndex(s, ": ")
	if i < 0 {
		return s
	}
	cause := s[i+2:]
	if class, _, ok := strings.Cut(s, ": "); ok && !strings.ContainsAny(class, " .") && class != s[:i] {
		return class + ": " + cause
	}
	return cause
}

package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// row is one watched (or paused) cap, or with -r one found below a
// watched directory, as shown.
type row struct {
	cap      string
	name     string
	rootName string // for a child: its watched directory's name
	child    bool
	dir      bool
	paused   bool
	cs       watcher.CapStatus
}

// sortKey orders the rows; s cycles through them.
type sortKey int

const (
	sortName    sortKey = iota // by name: a tree stays together
	sortChanged                // last changed first
	sortState                  // trouble first
	sortKeys
)

func (k sortKey) String() string {
	return [...]string{"name", "last change", "state"}[k]
}

// rows lists the caps the filter lets through, in the sort order.
func (m *Model) rows() []row {
	var out []row
	for _, cs := range m.status.Caps {
		c := ReadOnly(cs.Cap)
		r := row{cap: c, name: m.label(c), dir: cs.Dir, cs: cs}
		if cs.Path != "" && !slices.Contains(m.status.Roots, c) { // also given itself: a row of its own
			r.child, r.rootName = true, m.label(ReadOnly(cs.Root))
			r.name = r.rootName + "/" + printable(cs.Path)
		}
		out = append(out, r)
	}
	for _, p := range m.status.Paused {
		c := ReadOnly(p)
		out = append(out, row{cap: c, name: m.label(c), paused: true, dir: strings.HasPrefix(c, "URI:DIR2")})
	}
	if m.filter != "" {
		out = slices.DeleteFunc(out, func(r row) bool { return !contains(r.name, m.filter) && !contains(r.cap, m.filter) })
	}
	slices.SortStableFunc(out, m.compare)
	return out
}

func (m *Model) compare(a, b row) int {
	switch m.sortBy {
	case sortChanged:
		if c := m.lastChange(b).Compare(m.lastChange(a)); c != 0 {
			return c
		}
	case sortState:
		if c := cmp.Compare(m.severity(a), m.severity(b)); c != 0 {
			return c
		}
	}
	return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.cap, b.cap))
}

// lastChange is when the row's cap last changed, as far as known.
func (m *Model) lastChange(r row) time.Time {
	if in := m.info[r.cap]; in != nil && !in.changed.IsZero() {
		return in.changed
	}
	return r.cs.LastChange
}

// label names a watched cap: the name given, else its short cap.
func (m *Model) label(c string) string {
	if n := m.status.Names[c]; n != "" {
		return n
	}
	return events.ShortCap(ReadOnly(c))
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
		if contains(m.eventLine(e), m.filter) || contains(e.Cap, m.filter) {
			out = append(out, e)
		}
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// name is how a cap without a label is named: its path, else its short
// cap.
func name(c, path string) string {
	if path != "" {
		return path
	}
	return events.ShortCap(ReadOnly(c))
}

// serversUp counts the servers not known to be down, of all.
func (m *Model) serversUp() (up, all int) {
	for _, s := range m.status.Servers {
		if s.Mode != watcher.ModeDown {
			up++
		}
	}
	return up, len(m.status.Servers)
}

// state names a cap's state and the style to show it in. It does not
// claim "up to date" when too few servers answer to know.
func (m *Model) state(r row) (string, lipgloss.Style) {
	in := m.info[r.cap]
	up, all := m.serversUp()
	switch {
	case r.paused:
		return "paused", m.st.dim
	case r.cs.Err != "":
		return "error", m.st.bad
	case all > 0 && up == 0:
		return "offline: 0 servers", m.st.bad
	case r.cs.Pending:
		return "confirming", m.st.warn
	case in != nil && in.warning != "":
		return in.warning, m.st.bad
	case r.cs.Uncoordinated:
		return "uncoordinated write", m.st.bad
	case r.cs.Checked.IsZero():
		return "mapping", m.st.dim
	case !r.cs.Known:
		return "unrecoverable", m.st.bad
	case r.cs.K > 0 && up < r.cs.K:
		return fmt.Sprintf("stale: %d up < k=%d", up, r.cs.K), m.st.bad
	}
	return "up to date", m.st.ok
}

// severity ranks states for sorting by state: trouble first.
func (m *Model) severity(r row) int {
	s, _ := m.state(r)
	switch {
	case s == "error", strings.HasPrefix(s, "offline"), strings.HasPrefix(s, "stale"), strings.HasPrefix(s, "un"):
		return 0
	case s == "confirming", s == "mapping":
		return 1
	case s == "up to date":
		return 2
	}
	return 3
}

// printable makes text from a peer safe to put on a terminal: control
// characters (escape sequences included) and invalid UTF-8 become �,
// tabs spaces.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r == utf8.RuneError || unicode.IsControl(r):
			return '�'
		}
		return r
	}, strings.ToValidUTF8(s, "�"))
}

// textLines splits a file's contents into printable lines.
func textLines(b []byte) []string {
	if len(b) == 0 {
		return []string{"(empty)"}
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = printable(strings.ReplaceAll(strings.TrimSuffix(l, "\r"), "\t", "    "))
	}
	return lines
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

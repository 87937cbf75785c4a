package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key binding; it feeds the help view.
type keyMap struct {
	Up, Down, PageUp, PageDown  key.Binding
	Add, Remove, Pause, Refresh key.Binding
	View, Copy, Sort, Errors    key.Binding
	Details, Back, Filter, Help key.Binding
	Quit, AllKeys               key.Binding // AllKeys is Help as the hints name it
}

func defaultKeys() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "select up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "select down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup/b", "older events")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn/f", "newer events")),
		Add:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add")),
		Remove:   key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "remove")),
		Pause:    key.NewBinding(key.WithKeys("p", " "), key.WithHelp("p", "pause")),
		Refresh:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		View:     key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "view")),
		Copy:     key.NewBinding(key.WithKeys("c", "y"), key.WithHelp("c/y", "copy cap")),
		Sort:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Errors:   key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "errors in full")),
		Details:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("⏎", "details")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back/clear")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		AllKeys:  key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "all keys")),
	}
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Add, k.Remove, k.Pause, k.Details, k.View, k.Filter, k.AllKeys, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown},
		{k.Add, k.Remove, k.Pause, k.Refresh},
		{k.Details, k.View, k.Copy, k.Sort, k.Errors},
		{k.Back, k.Filter, k.Help, k.Quit},
	}
}

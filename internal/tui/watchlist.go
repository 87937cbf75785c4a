package tui

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"go.yaml.in/yaml/v3"
)

// watchList is the file remembering the dashboard's caps: each entry is
// a read cap, or a mapping {cap: READCAP, name: NAME} naming its row.
type watchList struct {
	Caps []listEntry `yaml:"caps"`
}

// listEntry is one cap of a watch list.
type listEntry struct {
	Cap  string `yaml:"cap"`
	Name string `yaml:"name,omitempty"`
}

// UnmarshalYAML accepts a bare cap as well as a mapping.
func (e *listEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Cap = n.Value
		return nil
	}
	type plain listEntry
	return n.Decode((*plain)(e))
}

// MarshalYAML writes an unnamed entry as a bare cap.
func (e listEntry) MarshalYAML() (any, error) {
	if e.Name == "" {
		return e.Cap, nil
	}
	type plain listEntry
	return plain(e), nil
}

// DefaultWatchList is tahoe-watch/tui.yaml in the user config directory,
// or "" if there is none.
func DefaultWatchList() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tahoe-watch", "tui.yaml")
}

// LoadWatchList reads the caps remembered in file; a missing file holds
// none. Every cap is returned as its read cap.
func LoadWatchList(file string) ([]Target, error) {
	const op = "tui.LoadWatchList"
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	var wl watchList
	if err := yaml.Unmarshal(b, &wl); err != nil {
		return nil, errkind.E(op, errkind.Usage, "%s: not a watch list", file)
	}
	var out []Target
	for i, e := range wl.Caps {
		c, err := cap.Parse(e.Cap)
		if err != nil {
			return nil, errkind.E(op, errkind.Usage, "%s: cap %d: %v", file, i+1, err)
		}
		out = append(out, Target{Cap: c.ReadOnly(), Name: printable(e.Name)})
	}
	return out, nil
}

// SaveWatchList writes the targets, reduced to read caps, to file with
// mode 0600, replacing it atomically.
func SaveWatchList(file string, ts []Target) error {
	const op = "tui.SaveWatchList"
	wl := watchList{Caps: []listEntry{}}
	for _, t := range ts {
		if t.Cap != nil {
			wl.Caps = append(wl.Caps, listEntry{Cap: t.Cap.ReadOnly().String(), Name: t.Name})
		}
	}
	b, err := yaml.Marshal(wl)
	if err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tui-*.yaml")
	if err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return errkind.E(op, errkind.Other, err)
	}
	if err := tmp.Close(); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	return nil
}

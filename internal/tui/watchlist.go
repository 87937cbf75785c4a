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

// watchList is the file remembering the dashboard's caps.
type watchList struct {
	Caps []string `yaml:"caps"`
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
func LoadWatchList(file string) ([]cap.Cap, error) {
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
	var out []cap.Cap
	for i, s := range wl.Caps {
		c, err := cap.Parse(s)
		if err != nil {
			return nil, errkind.E(op, errkind.Usage, "%s: cap %d: %v", file, i+1, err)
		}
		out = append(out, c.ReadOnly())
	}
	return out, nil
}

// SaveWatchList writes caps, reduced to read caps, to file with mode 0600,
// replacing it atomically.
func SaveWatchList(file string, caps []string) error {
	const op = "tui.SaveWatchList"
	wl := watchList{Caps: []string{}}
	for _, s := range caps {
		if r := ReadOnly(s); r != hiddenCap {
			wl.Caps = append(wl.Caps, r)
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

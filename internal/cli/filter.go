package cli

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// eventFilter is --include, --exclude and --event: which events the
// watcher prints, passes to the hook and counts for --once/--count.
type eventFilter struct {
	include, exclude []string // globs on the event's path
	types            []string // event types; empty for all
}

// eventTypes are the values --event takes, for checks and completions.
var eventTypes = []string{string(events.Changed), string(events.Added), string(events.Removed),
	string(events.Modified), string(events.Warning), string(events.Ready)}

func (f *eventFilter) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.include, "include", nil,
		"only report paths matching `GLOB` (repeatable; a GLOB without / matches the last path element)")
	fs.StringArrayVar(&f.exclude, "exclude", nil, "do not report paths matching `GLOB` (repeatable; wins over --include)")
	fs.StringSliceVar(&f.types, "event", nil,
		"only report events of `TYPE`s: "+strings.Join(eventTypes, ", ")+" (repeatable or comma-separated)")
}

// check refuses malformed globs and unknown types.
func (f *eventFilter) check() error {
	for flag, globs := range map[string][]string{"--include": f.include, "--exclude": f.exclude} {
		for _, g := range globs {
			if _, err := path.Match(g, ""); err != nil {
				return &usageError{fmt.Errorf("%s %q: %v (path.Match syntax: *, ?, [...])", flag, g, err)}
			}
		}
	}
	for _, t := range f.types {
		if !slices.Contains(eventTypes, t) {
			return &usageError{fmt.Errorf("--event %q: want %s", t, strings.Join(eventTypes, ", "))}
		}
	}
	return nil
}

// keep reports whether e passes the filter.
func (f *eventFilter) keep(e events.Event) bool {
	if len(f.types) > 0 && !slices.Contains(f.types, string(e.Type)) {
		return false
	}
	if e.Type == events.Ready {
		return true // about the whole watch, not a path
	}
	if matchAny(f.exclude, e.Path) {
		return false
	}
	return len(f.include) == 0 || matchAny(f.include, e.Path)
}

// matchAny reports whether p matches one of globs: the whole path, or its
// last element for a glob without "/".
func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		target := p
		if !strings.Contains(g, "/") {
			target = path.Base(p)
		}
		if ok, _ := path.Match(g, target); ok {
			return true
		}
	}
	return false
}

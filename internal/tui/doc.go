// Package tui is tahoe-watch's interactive dashboard: a bubbletea model
// that renders what a watcher knows — the watched caps, the storage
// servers, the event log and, for one cap, its servermap — and lets a
// person add, remove, pause and refresh caps.
//
// The model adds no watching logic of its own. It consumes a Source: the
// real one (WatcherSource) drives an internal/watcher Watcher on a grid;
// tests may supply any other.
//
// No write cap is ever rendered: every cap the model shows passes through
// ReadOnly, which reduces a write cap to its read cap, and the add prompt
// reduces a write cap the moment it is complete (and masks it until then).
package tui

package tui

import (
	"context"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// Source is what the dashboard shows and controls. Caps are named by
// their read-only cap text.
type Source interface {
	// Status is a snapshot of the watched caps and the servers.
	Status() Status
	// Events delivers the same events `tahoe-watch` prints.
	Events() <-chan events.Event
	// Add starts watching c (a write cap is reduced to its read cap).
	Add(ctx context.Context, c cap.Cap) error
	// Remove stops watching a cap and forgets it.
	Remove(ctx context.Context, readCap string) error
	// Pause stops watching a cap but keeps it listed; Resume undoes it.
	Pause(ctx context.Context, readCap string) error
	Resume(ctx context.Context, readCap string) error
	// Refresh re-maps every cap now.
	Refresh(ctx context.Context) error
	// ServerMap runs a servermap update of a cap for the detail view and
	// the per-server share counts.
	ServerMap(ctx context.Context, readCap string) (*mapupdate.Map, error)
}

// Status is a watcher's status plus the caps that are paused (which the
// watcher does not know about).
type Status struct {
	watcher.Status
	Paused []string // read caps
}

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
	// Add starts watching t (a write cap is reduced to its read cap) and
	// says whether it was new, already watched or paused (then resumed).
	Add(ctx context.Context, t Target) (AddResult, error)
	// Remove stops watching a cap and forgets it.
	Remove(ctx context.Context, readCap string) error
	// Pause stops watching a cap but keeps it listed; Resume undoes it.
	Pause(ctx context.Context, readCap string) error
	Resume(ctx context.Context, readCap string) error
	// Refresh starts re-mapping every cap that is not paused.
	Refresh(ctx context.Context) error
	// ServerMap runs a servermap update of a cap for the detail view and
	// the per-server share counts.
	ServerMap(ctx context.Context, readCap string) (*mapupdate.Map, error)
	// Read returns the contents of a watched file, failing if it holds
	// more than limit bytes.
	Read(ctx context.Context, readCap string, limit int64) ([]byte, error)
}

// Target is a cap to watch and the name its row shows ("" for none: the
// abbreviated cap).
type Target struct {
	Cap  cap.Cap
	Name string
}

// AddResult says what Source.Add did.
type AddResult int

// What Source.Add did.
const (
	Added          AddResult = iota // a new cap is watched
	AlreadyWatched                  // it was watched already: nothing changed
	Resumed                         // it was paused: it is watched again
)

// Status is a watcher's status plus the caps that are paused (which the
// watcher does not list as rows) and the names of the watched caps.
type Status struct {
	watcher.Status
	Paused []string          // read caps
	Names  map[string]string // row names of watched caps, by read cap
	// Roots are the read caps given to watch (not found below one), in
	// the order added; nil: every row without a Path.
	Roots []string
}

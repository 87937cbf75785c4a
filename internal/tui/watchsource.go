package tui

import (
	"context"
	"slices"
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// WatcherSource is the Source over a real watcher on a grid. One
// watcher runs for the source's lifetime; adding, removing, pausing and
// refreshing caps use its runtime API, so nothing is mapped afresh.
type WatcherSource struct {
	grid *grid.Grid
	w    *watcher.Watcher
	out  chan events.Event
	stop context.CancelFunc
	done chan struct{}

	mu     sync.Mutex
	caps   []string // read caps, in the order added
	parsed map[string]*cap.Mutable
}

// NewWatcherSource watches caps on opts.Grid until ctx is done or Close
// is called. opts.Grid is required; it is also used for servermaps.
func NewWatcherSource(ctx context.Context, caps []cap.Cap, opts watcher.Options) (*WatcherSource, error) {
	if opts.Grid == nil {
		return nil, errkind.E("tui.NewWatcherSource", errkind.Usage, "no grid")
	}
	s := &WatcherSource{grid: opts.Grid, out: make(chan events.Event, 256), parsed: map[string]*cap.Mutable{},
		done: make(chan struct{})}
	var read []cap.Cap
	for _, c := range caps {
		m, err := s.remember(c)
		if err != nil {
			return nil, err
		}
		read = append(read, m)
	}
	w, err := watcher.New(read, opts)
	if err != nil {
		return nil, err
	}
	ctx, s.stop = context.WithCancel(ctx)
	s.w = w
	go func() {
		defer close(s.done)
		w.Run(ctx, func(e events.Event) {
			select {
			case s.out <- e:
			case <-ctx.Done():
			}
		})
	}()
	return s, nil
}

// remember adds c's read cap to the list (once) and returns it.
func (s *WatcherSource) remember(c cap.Cap) (*cap.Mutable, error) {
	m, ok := c.ReadOnly().(*cap.Mutable)
	if !ok || m.Access == cap.Verify {
		return nil, errkind.E("tui.Add", errkind.Usage, "%s: only mutable files and directories can be watched", cap.Abbrev(c))
	}
	str := m.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.parsed[str]; !dup {
		s.caps = append(s.caps, str)
		s.parsed[str] = m
	}
	return m, nil
}

// Caps returns the read caps watched or paused, in the order added.
func (s *WatcherSource) Caps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.caps)
}

// Status implements Source: the watcher's status, with paused caps
// listed apart (in the order added) rather than as rows.
func (s *WatcherSource) Status() Status {
	ws := s.w.Status()
	paused := map[string]bool{}
	caps := ws.Caps[:0]
	for _, c := range ws.Caps {
		switch {
		case !c.Paused:
			caps = append(caps, c)
		case c.Path == "":
			paused[c.Cap] = true
		}
	}
	ws.Caps = caps
	st := Status{Status: ws}
	for _, c := range s.Caps() {
		if paused[c] {
			st.Paused = append(st.Paused, c)
		}
	}
	return st
}

// Events implements Source.
func (s *WatcherSource) Events() <-chan events.Event { return s.out }

// Add implements Source; adding a paused cap resumes it.
func (s *WatcherSource) Add(ctx context.Context, c cap.Cap) error {
	m, err := s.remember(c)
	if err != nil {
		return err
	}
	if err := s.w.Add(ctx, m); err != nil {
		return err
	}
	return s.w.Resume(m.String())
}

// Remove implements Source.
func (s *WatcherSource) Remove(_ context.Context, readCap string) error {
	s.mu.Lock()
	i := slices.Index(s.caps, readCap)
	if i >= 0 {
		s.caps = slices.Delete(s.caps, i, i+1)
		delete(s.parsed, readCap)
	}
	s.mu.Unlock()
	if i < 0 {
		return errkind.E("tui.Remove", errkind.NotFound, "cap not watched")
	}
	return s.w.Remove(readCap)
}

// Pause implements Source.
func (s *WatcherSource) Pause(_ context.Context, readCap string) error { return s.w.Pause(readCap) }

// Resume implements Source: changes made while paused are reported.
func (s *WatcherSource) Resume(_ context.Context, readCap string) error { return s.w.Resume(readCap) }

// Refresh implements Source: every server is resubscribed and every cap
// re-mapped, changes reported as events.
func (s *WatcherSource) Refresh(context.Context) error {
	s.w.Refresh()
	return nil
}

// ServerMap implements Source.
func (s *WatcherSource) ServerMap(ctx context.Context, readCap string) (*mapupdate.Map, error) {
	s.mu.Lock()
	m := s.parsed[readCap]
	s.mu.Unlock()
	if m == nil {
		return nil, errkind.E("tui.ServerMap", errkind.NotFound, "cap not watched")
	}
	servers, closeAll := mapupdate.Clients(s.grid, m.SI, nil)
	defer closeAll()
	return mapupdate.Update(ctx, m, servers, nil)
}

// Close stops the watcher.
func (s *WatcherSource) Close() {
	s.stop()
	<-s.done
}

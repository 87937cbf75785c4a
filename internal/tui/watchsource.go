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

// WatcherSource is the Source over a real watcher on a grid.
//
// The watcher cannot yet add, remove or pause a cap at runtime, nor
// refresh on demand, so WatcherSource restarts it with the new set of
// caps instead. A restart maps every cap afresh as a baseline: a change
// found by it updates the cap's row but yields no event.
type WatcherSource struct {
	grid *grid.Grid
	opts watcher.Options
	out  chan events.Event

	mu      sync.Mutex
	ctx     context.Context // the source's lifetime
	caps    []string        // read caps, in the order added
	parsed  map[string]*cap.Mutable
	paused  map[string]bool
	w       *watcher.Watcher
	stop    context.CancelFunc
	done    chan struct{}
	servers []watcher.ServerStatus // of the last watcher, when none runs
}

// NewWatcherSource watches caps on opts.Grid until ctx is done or Close
// is called. opts.Grid is required; it is also used for servermaps.
func NewWatcherSource(ctx context.Context, caps []cap.Cap, opts watcher.Options) (*WatcherSource, error) {
	if opts.Grid == nil {
		return nil, errkind.E("tui.NewWatcherSource", errkind.Usage, "no grid")
	}
	s := &WatcherSource{grid: opts.Grid, opts: opts, out: make(chan events.Event, 256), ctx: ctx,
		parsed: map[string]*cap.Mutable{}, paused: map[string]bool{}}
	for _, c := range caps {
		if _, err := s.remember(c); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s, s.restartLocked()
}

// remember adds c's read cap to the list; it reports whether it is new.
func (s *WatcherSource) remember(c cap.Cap) (string, error) {
	m, ok := c.ReadOnly().(*cap.Mutable)
	if !ok || m.Access == cap.Verify {
		return "", errkind.E("tui.Add", errkind.Usage, "%s: only mutable files and directories can be watched", cap.Abbrev(c))
	}
	str := m.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.parsed[str]; dup {
		return str, nil
	}
	s.caps = append(s.caps, str)
	s.parsed[str] = m
	return str, nil
}

// Caps returns the read caps watched or paused, in the order added.
func (s *WatcherSource) Caps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.caps)
}

// Status implements Source.
func (s *WatcherSource) Status() Status {
	s.mu.Lock()
	w, servers := s.w, s.servers
	var paused []string
	for _, c := range s.caps {
		if s.paused[c] {
			paused = append(paused, c)
		}
	}
	s.mu.Unlock()
	st := Status{Paused: paused}
	if w != nil {
		st.Status = w.Status()
	} else {
		st.Servers = servers
	}
	return st
}

// Events implements Source.
func (s *WatcherSource) Events() <-chan events.Event { return s.out }

// Add implements Source.
func (s *WatcherSource) Add(_ context.Context, c cap.Cap) error {
	str, err := s.remember(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.paused, str)
	return s.restartLocked()
}

// Remove implements Source.
func (s *WatcherSource) Remove(_ context.Context, readCap string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.caps, readCap)
	if i < 0 {
		return errkind.E("tui.Remove", errkind.NotFound, "cap not watched")
	}
	s.caps = slices.Delete(s.caps, i, i+1)
	delete(s.parsed, readCap)
	delete(s.paused, readCap)
	return s.restartLocked()
}

// Pause implements Source.
func (s *WatcherSource) Pause(_ context.Context, readCap string) error {
	return s.setPaused(readCap, true)
}

// Resume implements Source.
func (s *WatcherSource) Resume(_ context.Context, readCap string) error {
	return s.setPaused(readCap, false)
}

func (s *WatcherSource) setPaused(readCap string, p bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.parsed[readCap]; !ok {
		return errkind.E("tui.Pause", errkind.NotFound, "cap not watched")
	}
	if s.paused[readCap] == p {
		return nil
	}
	s.paused[readCap] = p
	return s.restartLocked()
}

// Refresh implements Source: it restarts the watcher, which re-maps every
// cap and resubscribes every server.
func (s *WatcherSource) Refresh(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restartLocked()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// restartLocked stops the running watcher and starts one over the caps
// not paused (none if every cap is paused or removed).
func (s *WatcherSource) restartLocked() error {
	s.stopLocked()
	var caps []cap.Cap
	for _, c := range s.caps {
		if !s.paused[c] {
			caps = append(caps, s.parsed[c])
		}
	}
	if len(caps) == 0 {
		return nil
	}
	w, err := watcher.New(caps, s.opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func(e events.Event) {
			select {
			case s.out <- e:
			case <-ctx.Done():
			}
		})
	}()
	s.w, s.stop, s.done = w, cancel, done
	return nil
}

func (s *WatcherSource) stopLocked() {
	if s.w == nil {
		return
	}
	s.servers = s.w.Status().Servers
	s.stop()
	<-s.done
	s.w, s.stop, s.done = nil, nil, nil
}

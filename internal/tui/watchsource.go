package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// How often, and how patiently, the source asks a server that is not
// pushing whether it answers at all. (A variable for tests.)
var probeEvery = 5 * time.Second

const probeTimeout = 3 * time.Second

// WatcherSource is the Source over a real watcher on a grid. One
// watcher runs for the source's lifetime; adding, removing, pausing and
// refreshing caps use its runtime API, so nothing is mapped afresh.
//
// A server that does not push is asked for its version document every
// few seconds, so that one that refuses or does not answer is shown as
// down, with a round-trip time only when it answered.
type WatcherSource struct {
	grid    *grid.Grid
	w       *watcher.Watcher
	servers []*watcher.Server // for the probes
	out     chan events.Event
	stop    context.CancelFunc
	done    chan struct{} // the watcher has stopped
	probed  chan struct{} // the probes have stopped
	every   time.Duration // probeEvery when made

	mu     sync.Mutex
	caps   []string // read caps, in the order added
	parsed map[string]*cap.Mutable
	names  map[string]string
	probes map[string]probe // by server ID
}

// probe is the outcome of the last version request to a server.
type probe struct {
	at  time.Time
	rtt time.Duration
	err error
}

// NewWatcherSource watches the targets on opts.Grid until ctx is done or
// Close is called. opts.Grid is required; it is also used for servermaps,
// contents and probes.
func NewWatcherSource(ctx context.Context, ts []Target, opts watcher.Options) (*WatcherSource, error) {
	if opts.Grid == nil {
		return nil, errkind.E("tui.NewWatcherSource", errkind.Usage, "no grid")
	}
	s := &WatcherSource{grid: opts.Grid, out: make(chan events.Event, 256), parsed: map[string]*cap.Mutable{},
		names: map[string]string{}, probes: map[string]probe{}, done: make(chan struct{}), probed: make(chan struct{}),
		every: probeEvery}
	var read []cap.Cap
	for _, t := range ts {
		m, _, err := s.remember(t)
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
	s.servers = watcher.NewServers(opts.Grid)
	go s.probeLoop(ctx)
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

// remember adds t's read cap to the list (once) and returns it, and
// whether it was new. A name given names the row, also of a cap known.
func (s *WatcherSource) remember(t Target) (*cap.Mutable, bool, error) {
	m, ok := t.Cap.ReadOnly().(*cap.Mutable)
	if !ok || m.Access == cap.Verify {
		return nil, false, errkind.E("tui.Add", errkind.Usage, "%s: only mutable files and directories can be watched", cap.Abbrev(t.Cap))
	}
	str := m.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.parsed[str]; dup {
		// Already watched: its row keeps the name it has (adding it
		// again, e.g. by its path, says so and renames nothing).
		if s.names[str] == "" && t.Name != "" {
			s.names[str] = printable(t.Name)
		}
		return m, false, nil
	}
	if t.Name != "" {
		s.names[str] = printable(t.Name)
	}
	s.caps = append(s.caps, str)
	s.parsed[str] = m
	return m, true, nil
}

// Targets returns the read caps watched or paused, in the order added,
// with their names.
func (s *WatcherSource) Targets() []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Target, len(s.caps))
	for i, c := range s.caps {
		out[i] = Target{Cap: s.parsed[c], Name: s.names[c]}
	}
	return out
}

// Status implements Source: the watcher's status, with paused caps
// listed apart (in the order added) rather than as rows, and the
// servers' modes corrected by the probes.
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
	s.mu.Lock()
	for i := range ws.Servers {
		applyProbe(&ws.Servers[i], s.probes[ws.Servers[i].ID])
	}
	st := Status{Status: ws, Names: make(map[string]string, len(s.names))}
	for c, n := range s.names {
		st.Names[c] = n
	}
	order := slices.Clone(s.caps)
	s.mu.Unlock()
	st.Roots = order
	for _, c := range order {
		if paused[c] {
			st.Paused = append(st.Paused, c)
		}
	}
	return st
}

// applyProbe corrects a server's status that is not push: a server whose
// probe failed is down, whatever polling nothing made of it; one that
// answered shows the probe's round trip.
func applyProbe(st *watcher.ServerStatus, p probe) {
	switch {
	case st.Mode == watcher.ModePush:
		return
	case p.at.IsZero():
		st.Latency = 0 // not measured yet: polling nothing takes no time
		return
	}
	if p.err != nil {
		st.Mode, st.Latency = watcher.ModeDown, 0
		st.LastError = fmt.Sprintf("%s: %v", mapupdate.Classify(p.err), p.err)
		return
	}
	st.Latency = p.rtt
	if p.at.After(st.LastContact) {
		st.LastContact = p.at
	}
}

// probeLoop asks every server that is not pushing for its version
// document, every probeEvery, until ctx is done.
func (s *WatcherSource) probeLoop(ctx context.Context) {
	defer close(s.probed)
	defer func() {
		for _, srv := range s.servers {
			srv.Client.Close()
		}
	}()
	for {
		modes := map[string]watcher.Mode{}
		for _, st := range s.w.Status().Servers {
			modes[st.ID] = st.Mode
		}
		var wg sync.WaitGroup
		for _, srv := range s.servers {
			if m := modes[srv.Info.ID]; m == watcher.ModePush || m == watcher.ModeConnecting {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.probe(ctx, srv) }()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.every):
		}
	}
}

func (s *WatcherSource) probe(ctx context.Context, srv *watcher.Server) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	_, err := srv.Client.Version(pctx)
	if ctx.Err() != nil {
		return
	}
	p := probe{at: time.Now(), rtt: time.Since(start), err: err}
	s.mu.Lock()
	s.probes[srv.Info.ID] = p
	s.mu.Unlock()
}

// Events implements Source.
func (s *WatcherSource) Events() <-chan events.Event { return s.out }

// Add implements Source; adding a paused cap resumes it.
func (s *WatcherSource) Add(ctx context.Context, t Target) (AddResult, error) {
	m, added, err := s.remember(t)
	if err != nil {
		return 0, err
	}
	if added {
		return Added, s.w.Add(ctx, m)
	}
	for _, p := range s.Status().Paused {
		if p == m.String() {
			return Resumed, s.w.Resume(p)
		}
	}
	return AlreadyWatched, nil
}

// Remove implements Source.
func (s *WatcherSource) Remove(_ context.Context, readCap string) error {
	s.mu.Lock()
	i := slices.Index(s.caps, readCap)
	if i >= 0 {
		s.caps = slices.Delete(s.caps, i, i+1)
		delete(s.parsed, readCap)
		delete(s.names, readCap)
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
// not paused re-mapped, changes reported as events. It does not wait.
func (s *WatcherSource) Refresh(context.Context) error {
	s.w.Refresh()
	return nil
}

// ServerMap implements Source, for a watched cap or one found below it.
func (s *WatcherSource) ServerMap(ctx context.Context, readCap string) (*mapupdate.Map, error) {
	m, err := s.mutable(readCap)
	if err != nil {
		return nil, err
	}
	servers, closeAll := mapupdate.Clients(s.grid, m.SI, nil)
	defer closeAll()
	return mapupdate.Update(ctx, m, servers, nil)
}

// mutable parses a read cap shown as a row: a watched one, or one that
// the watcher found below it.
func (s *WatcherSource) mutable(readCap string) (*cap.Mutable, error) {
	s.mu.Lock()
	m := s.parsed[readCap]
	s.mu.Unlock()
	if m != nil {
		return m, nil
	}
	for _, c := range s.w.Status().Caps {
		if c.Cap == readCap {
			if p, err := cap.Parse(readCap); err == nil {
				if m, ok := p.(*cap.Mutable); ok {
					return m, nil
				}
			}
		}
	}
	return nil, errkind.E("tui.ServerMap", errkind.NotFound, "cap not watched")
}

// errTooLarge stops a read at its limit.
var errTooLarge = errors.New("too large")

type limitWriter struct {
	buf   []byte
	limit int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(l.buf)+len(p)) > l.limit {
		return 0, errTooLarge
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// Read implements Source.
func (s *WatcherSource) Read(ctx context.Context, readCap string, limit int64) ([]byte, error) {
	m, err := s.mutable(readCap)
	if err != nil {
		return nil, err
	}
	r := retrieve.NewReader(s.grid, nil, &grid.Options{Retries: -1})
	defer r.Close()
	w := &limitWriter{limit: limit}
	if _, err := r.Cat(ctx, io.Writer(w), m); err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, errkind.E("tui.Read", errkind.Usage, "more than %d bytes: use tahoe-watch cat", limit)
		}
		return nil, err
	}
	return w.buf, nil
}

// Close stops the watcher and the probes.
func (s *WatcherSource) Close() {
	s.stop()
	<-s.done
	<-s.probed
}

package tui

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// memSource is a Source held in memory, for deterministic snapshots. It
// records the actions asked of it.
type memSource struct {
	mu    sync.Mutex
	st    Status
	ch    chan events.Event
	smaps map[string]*mapupdate.Map
	files map[string][]byte
	calls []string
}

func (s *memSource) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Caps = slices.Clone(st.Caps)
	st.Paused = slices.Clone(st.Paused)
	st.Names = maps.Clone(st.Names)
	return st
}

func (s *memSource) Events() <-chan events.Event { return s.ch }

func (s *memSource) called(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *memSource) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *memSource) Add(_ context.Context, t Target) (AddResult, error) {
	c := t.Cap.ReadOnly().String()
	s.called("add " + c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Name != "" {
		if s.st.Names == nil {
			s.st.Names = map[string]string{}
		}
		s.st.Names[c] = t.Name
	}
	if slices.Contains(s.st.Paused, c) {
		s.st.Paused = slices.DeleteFunc(s.st.Paused, func(p string) bool { return p == c })
		s.st.Caps = append(s.st.Caps, watcher.CapStatus{Cap: c, Root: c})
		return Resumed, nil
	}
	if slices.ContainsFunc(s.st.Caps, func(cs watcher.CapStatus) bool { return cs.Cap == c }) {
		return AlreadyWatched, nil
	}
	s.st.Caps = append(s.st.Caps, watcher.CapStatus{Cap: c, Root: c})
	return Added, nil
}

func (s *memSource) Remove(_ context.Context, c string) error {
	s.called("remove " + c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Caps = slices.DeleteFunc(s.st.Caps, func(cs watcher.CapStatus) bool { return cs.Cap == c })
	s.st.Paused = slices.DeleteFunc(s.st.Paused, func(p string) bool { return p == c })
	return nil
}

func (s *memSource) Pause(_ context.Context, c string) error {
	s.called("pause " + c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Caps = slices.DeleteFunc(s.st.Caps, func(cs watcher.CapStatus) bool { return cs.Cap == c })
	s.st.Paused = append(s.st.Paused, c)
	return nil
}

func (s *memSource) Resume(_ context.Context, c string) error {
	s.called("resume " + c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Paused = slices.DeleteFunc(s.st.Paused, func(p string) bool { return p == c })
	s.st.Caps = append(s.st.Caps, watcher.CapStatus{Cap: c, Root: c})
	return nil
}

func (s *memSource) Refresh(context.Context) error { s.called("refresh"); return nil }

func (s *memSource) Read(_ context.Context, c string, limit int64) ([]byte, error) {
	s.called("read " + c)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[c]
	if !ok {
		return nil, errString("no such file")
	}
	if int64(len(b)) > limit {
		return nil, errString("too large")
	}
	return b, nil
}

func (s *memSource) ServerMap(_ context.Context, c string) (*mapupdate.Map, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.smaps[c]; m != nil {
		return m, nil
	}
	return &mapupdate.Map{}, nil
}

// t0 is the fixed clock of the snapshots.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fixedCap returns a deterministic write cap whose bytes all equal b.
func fixedCap(b byte, dir bool) *cap.Mutable {
	wk := make([]byte, 16)
	fp := make([]byte, 32)
	for i := range wk {
		wk[i] = b + byte(i)
	}
	for i := range fp {
		fp[i] = b ^ byte(i)
	}
	return cap.NewMutableFromKeys(cap.SDMF, dir, wk, fp)
}

func readCap(c *cap.Mutable) string { return c.ReadOnly().String() }

// fixture is a source with three caps (one paused), five servers in
// every mode and a servermap with a stale and a partial version.
func fixture() *memSource {
	a, b, c := fixedCap(1, false), fixedCap(40, true), fixedCap(90, false)
	servers := []watcher.ServerStatus{
		{ID: "v0-aaaa", Name: "storage1", Mode: watcher.ModePush, LastContact: t0.Add(-2 * time.Second), Latency: 3 * time.Millisecond, Notices: 4},
		{ID: "v0-bbbb", Name: "storage2", Mode: watcher.ModePush, LastContact: t0.Add(-2 * time.Second), Latency: 4 * time.Millisecond, Notices: 4},
		{ID: "v0-cccc", Name: "storage3", Mode: watcher.ModePoll, LastContact: t0.Add(-30 * time.Second), Latency: 12 * time.Millisecond, Polls: 9, LastError: "watch endpoint: 404"},
		{ID: "v0-dddd", Name: "storage4", Mode: watcher.ModeDown, LastContact: t0.Add(-10 * time.Minute), LastError: "connection refused"},
		{ID: "v0-eeee", Name: "storage5", Mode: watcher.ModeConnecting},
	}
	res := make([]*mapupdate.ServerResult, len(servers))
	for i, s := range servers {
		res[i] = &mapupdate.ServerResult{ID: s.ID, Name: s.Name, Listed: []int{i}}
	}
	res[3].Listed, res[3].Class, res[3].Err = nil, mapupdate.Refused, errString("connection refused")
	best := &mapupdate.Version{ID: mutable.VersionID{Seqnum: 7, K: 3, N: 5, DataLength: 1234, RootHash: [32]byte{1, 2, 3}}}
	for _, i := range []int{0, 1, 2, 4} {
		best.Shares = append(best.Shares, &mapupdate.Share{Num: i, Server: res[i]})
	}
	partial := &mapupdate.Version{ID: mutable.VersionID{Seqnum: 8, K: 3, N: 5, DataLength: 1300, RootHash: [32]byte{9, 9, 9}},
		Shares: []*mapupdate.Share{{Num: 3, Server: res[0]}}}
	res[0].Listed = []int{0, 3}
	sm := &mapupdate.Map{Versions: []*mapupdate.Version{partial, best}, Best: best,
		Newer: []*mapupdate.Version{partial}, Servers: res}
	return &memSource{
		ch: make(chan events.Event, 16),
		st: Status{Status: watcher.Status{
			Caps: []watcher.CapStatus{
				{Cap: readCap(a), Root: readCap(a), Known: true, Seqnum: 7, Size: 1234, RootHash: "aebagbaf", Checked: t0.Add(-5 * time.Second)},
				{Cap: readCap(b), Root: readCap(b), Dir: true, Known: true, Seqnum: 3, Size: 400, Checked: t0.Add(-time.Minute), Pending: true},
			},
			Servers: servers,
		}, Paused: []string{readCap(c)},
			Names: map[string]string{readCap(a): "notes.txt", readCap(b): "photos", readCap(c): "todo.txt"}},
		smaps: map[string]*mapupdate.Map{readCap(a): sm},
		files: map[string][]byte{readCap(a): []byte("first line\n\tindented\x1b[31m red?\n")},
	}
}

type errString string

func (e errString) Error() string { return string(e) }

package watcher

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// holdersOf makes a cap's table of a map's holders: by server ID, the
// share numbers found there.
func holdersOf(m map[string][]uint64) byServer[[]uint64] {
	if len(m) == 0 {
		return nil
	}
	t := make(byServer[[]uint64], 0, len(m))
	for id, sh := range m {
		t = append(t, serverValue[[]uint64]{id, sh})
	}
	return t
}

// cloneHolders returns a holders table as a map, for a status outside
// w.mu.
func cloneHolders(t byServer[[]uint64]) map[string][]uint64 {
	out := make(map[string][]uint64, len(t))
	for _, s := range t {
		out[s.id] = slices.Clone(s.v)
	}
	return out
}

// Status is a snapshot of what a Watcher is doing, for a status view.
type Status struct {
	Caps    []CapStatus
	Servers []ServerStatus
}

// CapStatus is one watched mutable's state.
type CapStatus struct {
	Cap      string // read-only cap
	Root     string // the watched cap it was found through
	Path     string // below Root
	Dir      bool
	Known    bool // a recoverable version has been seen
	Seqnum   uint64
	RootHash string
	Size     int64
	Checked  time.Time // the last verification
	Checks   int       // verifications (servermap updates) so far
	Err      string    // why the last verification failed
	Pending  bool      // a verification is queued or running
	K, N     int       // encoding of the known version
	// Holders lists, by server ID, the share numbers each server held at
	// the last verification (of any version).
	Holders       map[string][]uint64
	Uncoordinated bool       // the last verification found two versions with the newest seqnum
	Stuck         uint64     // a newer version stuck below k across refreshes (its seqnum), 0 if none
	LastChange    time.Time  // when the last change was reported
	LastVia       events.Via // how it was noticed
	Paused        bool       // its root is paused (see Watcher.Pause)
}

// ServerStatus is one server's state.
type ServerStatus struct {
	ID, Name    string
	Mode        Mode
	LastContact time.Time
	LastNotice  time.Time     // when the last notice arrived
	Latency     time.Duration // of the last subscribe or poll
	Subscribed  int           // indexes subscribed on the current connection
	Polled      int           // indexes it refused to subscribe (over-limit, ...), polled instead
	Subscribes  int           // connections subscribed so far
	Refreshes   int           // refresh cycles done
	Reconnects  int           // connections lost
	Notices     int
	Polls       int
	LastError   string
	// FalseHints counts its notices (or polled headers) that a
	// verification did not bear out; Demoted is set while it is polled
	// until the next refresh for sending too many.
	FalseHints int
	Demoted    bool
	// BadShares counts the shares it held that failed verification (bad
	// signature or hash chain, another file's, garbage, rolled back);
	// LastBad describes the last one.
	BadShares int
	LastBad   string
}

// Status returns a snapshot of every watched cap and every server.
func (w *Watcher) Status() Status {
	var st Status
	w.mu.Lock()
	for _, e := range w.entries {
		c := CapStatus{Cap: e.str, Root: e.root, Path: e.path, Dir: e.cap.Dir, Checked: e.checked,
			Checks: e.checks, Pending: e.queued || e.running, Holders: cloneHolders(e.holders),
			Uncoordinated: e.uncoordinated, Stuck: e.stuck, LastChange: e.lastChange, LastVia: e.lastVia,
			Paused: w.pausedLocked(e)}
		if e.known != nil {
			c.Known, c.Seqnum, c.Size, c.K, c.N = true, e.known.Seqnum, e.known.Size, e.known.K, e.known.N
			c.RootHash = base32.Encode(e.known.RootHash[:])
		}
		if e.lastErr != nil {
			c.Err = e.lastErr.Error()
		}
		st.Caps = append(st.Caps, c)
	}
	for str, r := range w.roots { // not yet started: listed, not mapped
		if !w.started || w.entries[keyOf(r.c.SI)] == nil {
			st.Caps = append(st.Caps, CapStatus{Cap: str, Root: str, Dir: r.c.Dir, Paused: r.paused})
		}
	}
	w.mu.Unlock()
	slices.SortFunc(st.Caps, func(a, b CapStatus) int {
		return cmp.Or(strings.Compare(a.Root, b.Root), strings.Compare(a.Path, b.Path))
	})
	st.Servers = w.Servers()
	return st
}

// Servers returns the status of each server alone: Status without the
// caps, which for many caps costs far less.
func (w *Watcher) Servers() []ServerStatus {
	out := make([]ServerStatus, 0, len(w.servers))
	for _, s := range w.servers {
		s.mu.Lock()
		out = append(out, s.stat)
		s.mu.Unlock()
	}
	return out
}

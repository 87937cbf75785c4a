package watcher

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// Bounded trust in hints. A notice (or a poll's header) is a claim by one
// server that a newer version exists; the verification it triggers is
// paid for by every server. A claim the verification does not bear out
// makes the watcher ignore that server's hints about that cap for a while,
// doubling each time (per server, per cap); a server that makes
// lieLimit such claims between two refreshes is demoted to polling until
// the next refresh, with a warning naming it.
const (
	minDistrust = time.Second
	lieLimit    = 3
)

// distrust is how long one server's hints about one entry are ignored.
type distrust struct {
	until time.Time
	wait  time.Duration
}

// distrustedLocked reports whether server's hints about e are being
// ignored. w.mu must be held.
func (w *Watcher) distrustedLocked(e *entry, server string) bool {
	d := e.distrust[server]
	return d != nil && w.opts.Clock.Now().Before(d.until)
}

// claim is the highest seqnum a server hinted at since the last map, and
// when it first did.
type claim struct {
	seq uint64
	at  time.Time
}

// claimLocked records that server hinted at seq for e. w.mu must be held.
func (w *Watcher) claimLocked(e *entry, server string, seq uint64) {
	if e.claims == nil {
		e.claims = map[string]claim{}
	}
	c, ok := e.claims[server]
	if !ok {
		c.at = w.opts.Clock.Now()
	}
	c.seq = max(c.seq, seq)
	e.claims[server] = c
}

// judgeLocked weighs the claims made about e since its last map against
// what the map m (begun at started) verified, and returns the servers
// whose claims it did not bear out. Claims made after the map began, and
// those of servers it did not ask, wait for the next. w.mu must be held.
func (w *Watcher) judgeLocked(e *entry, m *Map, started time.Time) []string {
	var verified uint64
	if m.Best != nil {
		verified = m.Best.Seqnum
	}
	if m.Stuck != nil {
		verified = max(verified, m.Stuck.Seqnum)
	}
	var liars []string
	for srv, c := range e.claims {
		if !c.at.Before(started) || slices.Contains(m.Down, srv) || slices.Contains(m.Skipped, srv) {
			continue
		}
		delete(e.claims, srv)
		if c.seq <= verified {
			delete(e.distrust, srv)
			continue
		}
		d := e.distrust[srv]
		if d == nil {
			if e.distrust == nil {
				e.distrust = map[string]*distrust{}
			}
			d = &distrust{wait: minDistrust}
			e.distrust[srv] = d
		} else {
			d.wait = min(2*d.wait, max(w.opts.Refresh, minDistrust))
		}
		d.until = w.opts.Clock.Now().Add(d.wait)
		liars = append(liars, srv)
	}
	if len(e.claims) == 0 {
		e.claims = nil // a map keeps its buckets: at 100,000 caps they weigh
	}
	if len(e.distrust) == 0 {
		e.distrust = nil
	}
	return liars
}

// falseHints counts the unfounded claims of each server in liars, and
// demotes those that reach lieLimit, warning about each once.
func (w *Watcher) falseHints(ctx context.Context, e *entry, liars []string) {
	for _, id := range liars {
		s := w.serverByID(id)
		if s == nil {
			continue
		}
		s.mu.Lock()
		s.lies++
		s.stat.FalseHints++
		demote := s.lies >= lieLimit && !s.demoted
		if demote {
			s.demoted = true
		}
		s.mu.Unlock()
		w.log.Debug("a hint did not verify", "server", s.srv.Info.Name(), "cap", e.label())
		if !demote {
			continue
		}
		select {
		case s.demote <- struct{}{}:
		default:
		}
		msg := fmt.Sprintf("server %s keeps sending notices of versions that do not verify; polling it until the next refresh", s.srv.Info.Name())
		w.log.Warn(msg, "server", s.srv.Info.Name(), "false_hints", lieLimit)
		w.send(ctx, events.Event{Type: events.Warning, Time: w.opts.Clock.Now(), Cap: e.str, Path: e.path, Root: e.root,
			Server: id, Size: -1, Via: events.ViaPush, Warning: events.WarnFalseNotices, Message: msg})
	}
}

// serverByID returns the server state with id, or nil.
func (w *Watcher) serverByID(id string) *serverState { return w.byID[id] }

// forgiveAll starts a new refresh period: every server may push again.
func (w *Watcher) forgiveAll() {
	for _, s := range w.servers {
		s.mu.Lock()
		s.lies, s.demoted = 0, false
		s.mu.Unlock()
	}
}

// badLocked returns the shares of m that failed verification and those
// rolled back below a seqnum seen on their server before, and records the
// seqnums seen. w.mu must be held.
func (w *Watcher) badLocked(e *entry, m *Map) []BadShare {
	bad := slices.Clone(m.Bad)
	for id, seq := range m.Seqnums {
		if seen, _ := e.seenOn.get(id); seq < seen {
			for _, n := range m.Holders[id] {
				bad = append(bad, BadShare{Server: id, Shnum: n,
					Reason: fmt.Sprintf("rolled back: holds seqnum %d, seqnum %d was seen there before", seq, seen)})
			}
			continue // remember the higher one
		}
		e.seenOn.set(id, seq)
	}
	return bad
}

// badShare names one share of one server, for the bad-share warnings
// given.
type badShare struct {
	server string
	shnum  uint64
}

// badShares names the server of every bad share, once per share and cap
// until its reason changes: a warning event, a WARN line and the
// server's status. Only a share's last reason is kept, so what is
// remembered stays bounded by the shares servers hold, however many
// reasons (seqnums, lengths) a server makes up.
func (w *Watcher) badShares(ctx context.Context, e *entry, bad []BadShare) {
	for _, b := range bad {
		key := badShare{b.Server, b.Shnum}
		if r, ok := e.badSeen[key]; ok && r == b.Reason { // e's checks are serialized: no lock needed
			continue
		}
		if e.badSeen == nil {
			e.badSeen = map[badShare]string{}
		}
		e.badSeen[key] = b.Reason
		name := b.Server
		s := w.serverByID(b.Server)
		if s != nil {
			name = s.srv.Info.Name()
		}
		msg := fmt.Sprintf("server %s holds a bad share %d: %s", name, b.Shnum, b.Reason)
		if s != nil {
			s.update(func(st *ServerStatus) { st.BadShares++; st.LastBad = e.label() + ": " + msg })
		}
		w.log.Warn("bad share", "server", name, "cap", e.label(), "share", b.Shnum, "reason", b.Reason)
		w.send(ctx, events.Event{Type: events.Warning, Time: w.opts.Clock.Now(), Cap: e.str, Path: e.path, Root: e.root,
			Server: b.Server, Size: -1, Via: events.ViaRefresh, Warning: events.WarnBadShare, Message: msg})
	}
}

// sawOnLocked records that server id holds seq (verified, or acknowledged
// at the verified root hash). w.mu must be held.
func (e *entry) sawOnLocked(id string, seq uint64) {
	seen, _ := e.seenOn.get(id)
	e.seenOn.set(id, max(seen, seq))
}

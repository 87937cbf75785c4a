package watcher

import (
	"context"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// Startup subscribes first and maps from the acknowledgements: every
// server's `subscribed` reply lists the shares it holds of each cap with
// their (seqnum, root), so a cap's first map need not list any server
// and reads only the prefixes it needs to verify the newest claimed
// version (see mapupdate.Claim). A cap's first map starts as soon as
// every server acknowledged it, or once no acknowledgement came in for
// ackWait, so a server slow to connect delays it only that long.
const ackWait = 3 * time.Second

// claimMapper is a Mapper that can take the servers' claimed shares in
// place of listing them; *GridMapper is one.
type claimMapper interface {
	MapClaimed(ctx context.Context, c *cap.Mutable, claims map[string][]mapupdate.Claim) (*Map, error)
}

// ackLocked records what server id's acknowledgement says e's shares
// are, and reports whether it could be used as a listing: refused, or
// with more shares than a file can have, or malformed, it is not.
// w.mu must be held.
func (e *entry) ackLocked(id string, r watchproto.Result) bool {
	var cs []mapupdate.Claim
	switch {
	case r.Refused == watchproto.NoShare:
	case r.Refused != "" || len(r.Shares) > mapupdate.MaxClaims:
		return false
	default:
		cs = make([]mapupdate.Claim, 0, len(r.Shares))
		for _, sh := range r.Shares {
			if len(sh.Root) != mutable.HashLen {
				return false
			}
			c := mapupdate.Claim{Shnum: sh.Shnum, Seqnum: sh.Seqnum}
			copy(c.Root[:], sh.Root)
			cs = append(cs, c)
		}
	}
	if e.acks == nil {
		e.acks = map[string][]mapupdate.Claim{}
	}
	e.acks[id] = cs
	return true
}

// startInitial queues the first map of an entry start held back for its
// acknowledgements, once.
func (w *Watcher) startInitial(e *entry) {
	w.mu.Lock()
	wait := e.awaitAcks
	e.awaitAcks = false
	w.mu.Unlock()
	if wait {
		w.initial(e, &w.init)
	}
}

// mapEntry maps e, from the servers' acknowledgements if this is its
// first map and some came in.
func (w *Watcher) mapEntry(ctx context.Context, e *entry) (*Map, error) {
	w.mu.Lock()
	acks := e.acks
	e.acks = nil
	if !e.baseline {
		acks = nil
	}
	w.mu.Unlock()
	if cm, ok := w.opts.Mapper.(claimMapper); ok && len(acks) > 0 {
		return cm.MapClaimed(ctx, e.cap, acks)
	}
	return w.opts.Mapper.Map(ctx, e.cap)
}

// waitAcks waits for wg or ctx, or until no acknowledgement came in for
// d: a server subscribing many caps takes longer than d, and while its
// acknowledgements keep coming the caps' first maps had better wait for
// them (a map without a server's claims lists that server); a server
// that never answers delays them only d after the others' last.
func (w *Watcher) waitAcks(ctx context.Context, wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { defer close(done); wg.Wait() }()
	quiet := time.NewTimer(d)
	defer quiet.Stop()
	tick := time.NewTicker(d / 10)
	defer tick.Stop()
	last := w.acksIn.Load()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-quiet.C:
			return
		case <-tick.C:
			if n := w.acksIn.Load(); n != last {
				last = n
				quiet.Reset(d)
			}
		}
	}
}

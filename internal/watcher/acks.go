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
// every server acknowledged it, or after ackWait at the latest, so a
// server slow to connect delays it only that long.
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

// waitAcks waits for wg, ctx or d, whichever comes first.
func waitAcks(ctx context.Context, wg *sync.WaitGroup, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	waitGroup(ctx, wg)
}

package mapupdate

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// Claim is what a server said of one share it holds, unverified: for
// example in a watch acknowledgement. An update given a server's claims
// uses them as that server's listing instead of asking for one.
type Claim struct {
	Shnum  uint64
	Seqnum uint64
	Root   [mutable.HashLen]byte
}

// A claimed listing saves the list request; the claims' versions are
// not trusted: every claimed share is read and verified.

// MaxClaims bounds the claims taken from one server: more than a share
// of every number Tahoe allows is a lie, and the server is listed as
// usual instead.
const MaxClaims = 256

// claimed is one share a server claims, with the server.
type claimed struct {
	r     *ServerResult
	claim Claim
}

// claimVersion is the claimed (seqnum, root) of some shares.
type claimVersion struct {
	seq   uint64
	root  [mutable.HashLen]byte
	items []claimed
}

// groupClaims groups the claims of servers by claimed version, newest
// first, and fills each server's Listed from them. A share number a
// server claims more than once is taken once (its first claim), as a
// listing names each share once: a repeat costs no second read.
func groupClaims(rs []*ServerResult, servers []Server) []*claimVersion {
	by := map[[mutable.HashLen + 8]byte]*claimVersion{}
	var out []*claimVersion
	for i, s := range servers {
		seen := make(map[uint64]bool, len(s.Claims))
		for _, c := range s.Claims {
			if seen[c.Shnum] {
				continue
			}
			seen[c.Shnum] = true
			rs[i].Listed = append(rs[i].Listed, int(c.Shnum))
			var k [mutable.HashLen + 8]byte
			copy(k[:], c.Root[:])
			for j := range 8 {
				k[mutable.HashLen+j] = byte(c.Seqnum >> (8 * j))
			}
			v := by[k]
			if v == nil {
				v = &claimVersion{seq: c.Seqnum, root: c.Root}
				by[k] = v
				out = append(out, v)
			}
			v.items = append(v.items, claimed{rs[i], c})
		}
	}
	slices.SortFunc(out, func(a, b *claimVersion) int {
		if c := cmp.Compare(b.seq, a.seq); c != 0 {
			return c
		}
		return bytes.Compare(b.root[:], a.root[:])
	})
	return out
}

// claimedReads reads and verifies every claimed share at once: one
// round trip where listing and reading took two. Every share is still
// verified (and a bad one named), as with a listing; a server whose
// claims are false costs one read per claimed share, at most MaxClaims,
// and, as for a listing, at most perServerReads in flight.
func (u *updater) claimedReads(ctx context.Context, vs []*claimVersion) {
	var mu sync.Mutex // guards the ServerResults
	var wg sync.WaitGroup
	slots := map[*ServerResult]chan struct{}{}
	for _, v := range vs {
		for _, it := range v.items {
			slot := slots[it.r]
			if slot == nil {
				slot = make(chan struct{}, perServerReads)
				slots[it.r] = slot
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				slot <- struct{}{}
				defer func() { <-slot }()
				rctx, cancel := context.WithTimeout(ctx, u.opts.Timeout)
				defer cancel()
				s, err := u.readShare(rctx, it.r.Source, int(it.claim.Shnum))
				mu.Lock()
				defer mu.Unlock()
				u.record(ctx, it.r, int(it.claim.Shnum), s, err)
			}()
		}
	}
	wg.Wait()
}

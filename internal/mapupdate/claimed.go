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
// uses them as that server's listing and reads only the shares it needs.
type Claim struct {
	Shnum  uint64
	Seqnum uint64
	Root   [mutable.HashLen]byte
}

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
// first, and fills each server's Listed from them.
func groupClaims(rs []*ServerResult, servers []Server) []*claimVersion {
	by := map[[mutable.HashLen + 8]byte]*claimVersion{}
	var out []*claimVersion
	for i, s := range servers {
		for _, c := range s.Claims {
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

// claimedReads reads, of the claimed shares, only what the map needs:
// newest claimed version first, firstReads shares of distinct numbers
// (which tell k), then more up to k if k is larger, then the rest of
// that version if some failed; it
// stops at the first claimed version not newer than a recoverable one.
// So every claimed version newer than the best is read in full (a write
// in progress is seen), and a server whose claim is false costs one read
// per claimed share at most, and fails verification under its name.
func (u *updater) claimedReads(ctx context.Context, vs []*claimVersion) {
	var mu sync.Mutex // guards the ServerResults
	read := func(items []claimed) {
		var wg sync.WaitGroup
		for _, it := range items {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx, cancel := context.WithTimeout(ctx, u.opts.Timeout)
				defer cancel()
				s, err := u.readShare(rctx, it.r.Source, int(it.claim.Shnum))
				mu.Lock()
				defer mu.Unlock()
				u.record(ctx, it.r, int(it.claim.Shnum), s, err)
			}()
		}
		wg.Wait()
	}
	for _, v := range vs {
		if ctx.Err() != nil || u.recoverableAtLeast(v.seq, v.root) {
			return
		}
		seen := map[uint64]bool{}
		first, rest := takeDistinct(v.items, firstReads, seen)
		read(first)
		if k := u.claimedK(v); k > len(seen) && !u.recoverableAtLeast(v.seq, v.root) {
			var more []claimed
			more, rest = takeDistinct(rest, k-len(seen), seen)
			read(more)
		}
		if !u.recoverableAtLeast(v.seq, v.root) {
			read(rest)
		}
	}
}

// firstReads is how many shares of distinct numbers the first round
// reads of a claimed version: Tahoe's default k, so that a default file
// is verified in one round trip. A larger k takes a second round.
const firstReads = 3

// takeDistinct splits items into up to n whose share numbers are
// distinct and not in seen (adding them to it), and the rest.
func takeDistinct(items []claimed, n int, seen map[uint64]bool) (take, rest []claimed) {
	for _, it := range items {
		if len(take) < n && !seen[it.claim.Shnum] {
			seen[it.claim.Shnum] = true
			take = append(take, it)
		} else {
			rest = append(rest, it)
		}
	}
	return take, rest
}

// claimedK is k of the verified version matching v's claim, or 0.
func (u *updater) claimedK(v *claimVersion) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id := range u.versions {
		if id.Seqnum == v.seq && id.RootHash == v.root {
			return id.K
		}
	}
	return 0
}

// recoverableAtLeast reports whether a verified version at least as new
// as (seq, root) is recoverable.
func (u *updater) recoverableAtLeast(seq uint64, root [mutable.HashLen]byte) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, v := range u.versions {
		newer := id.Seqnum > seq || id.Seqnum == seq && bytes.Compare(id.RootHash[:], root[:]) >= 0
		if newer && v.Recoverable() {
			return true
		}
	}
	return false
}

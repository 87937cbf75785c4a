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

// A claimed listing saves the list request, and the claims save reads:
// only as many claimed shares are read and verified as make the newest
// claimed version recoverable (claimedReads). A claim is never trusted
// for a version: the version is the one those reads verified; the other
// claims of it stand as who holds it, as a listing would, and a retrieve
// verifies whatever it reads of them.

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

// firstReads is how many shares of a claimed version are read before
// its k is known: Tahoe's default k.
const firstReads = 3

// claimedReads reads and verifies claimed shares, newest claimed version
// first, only until a version is recoverable: k shares of it verified
// (of distinct numbers, spread over the servers). The other claims of
// that version stand unread, as the holders; every version with its
// seqnum is read as far too, so uncoordinated writes are still seen;
// older versions are not read. A claimed version that does not verify
// costs at most one read per claimed share, at most MaxClaims per
// server, and, as for a listing, at most perServerReads in flight to one
// server.
func (u *updater) claimedReads(ctx context.Context, vs []*claimVersion) {
	r := &claimReader{u: u, slots: map[*ServerResult]chan struct{}{}}
	var best *claimVersion
	for _, v := range vs {
		if best != nil && v.seq < best.seq {
			break
		}
		if r.readVersion(ctx, v) && best == nil {
			best = v
		}
	}
}

// claimReader reads claimed shares for one update.
type claimReader struct {
	u     *updater
	mu    sync.Mutex // guards the ServerResults
	slots map[*ServerResult]chan struct{}
}

// readVersion reads v's claimed shares until k distinct ones verify, or
// none is left, and reports whether v is recoverable.
func (r *claimReader) readVersion(ctx context.Context, v *claimVersion) bool {
	todo := spread(v.items)
	for round := 0; len(todo) > 0; round++ {
		k, have := r.u.verified(v)
		if k > 0 && len(have) >= k {
			return true
		}
		want := k - len(have)
		switch {
		case k > 0:
		case round == 0:
			want = firstReads
		default:
			want = len(todo) // nothing verified yet: read the rest at once
		}
		var batch []claimed
		batch, todo = pick(todo, have, want)
		r.read(ctx, batch)
	}
	k, have := r.u.verified(v)
	return k > 0 && len(have) >= k
}

// read reads and verifies the shares of batch at once.
func (r *claimReader) read(ctx context.Context, batch []claimed) {
	var wg sync.WaitGroup
	for _, it := range batch {
		slot := r.slots[it.r]
		if slot == nil {
			slot = make(chan struct{}, perServerReads)
			r.slots[it.r] = slot
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			slot <- struct{}{}
			defer func() { <-slot }()
			rctx, cancel := context.WithTimeout(ctx, r.u.opts.Timeout)
			defer cancel()
			s, err := r.u.readShare(rctx, it.r.Source, int(it.claim.Shnum))
			r.mu.Lock()
			defer r.mu.Unlock()
			r.u.record(ctx, it.r, int(it.claim.Shnum), s, err)
		}()
	}
	wg.Wait()
}

// spread orders items round-robin over their servers (in the order the
// servers were given, which is permuted per storage index), so that the
// first reads go to as many servers as possible.
func spread(items []claimed) []claimed {
	var order []*ServerResult
	by := map[*ServerResult][]claimed{}
	for _, it := range items {
		if by[it.r] == nil {
			order = append(order, it.r)
		}
		by[it.r] = append(by[it.r], it)
	}
	out := make([]claimed, 0, len(items))
	for len(out) < len(items) {
		for _, sr := range order {
			if q := by[sr]; len(q) > 0 {
				out, by[sr] = append(out, q[0]), q[1:]
			}
		}
	}
	return out
}

// pick takes up to want items of todo whose share numbers are neither
// in have nor taken already, and returns them and the items left. If
// every item left repeats a share number, it takes those instead (a
// repeat on another server may verify where the first did not).
func pick(todo []claimed, have map[uint64]bool, want int) (batch, rest []claimed) {
	taken := map[uint64]bool{}
	for _, it := range todo {
		n := it.claim.Shnum
		if len(batch) < want && !have[n] && !taken[n] {
			taken[n] = true
			batch = append(batch, it)
		} else {
			rest = append(rest, it)
		}
	}
	if len(batch) == 0 && len(rest) > 0 {
		n := min(want, len(rest))
		return rest[:n], rest[n:]
	}
	return batch, rest
}

// verified returns the k of claimed version v and the share numbers of
// it verified so far, if any verified (k 0 otherwise).
func (u *updater) verified(v *claimVersion) (int, map[uint64]bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	have := map[uint64]bool{}
	k := 0
	for id, ver := range u.versions {
		if id.Seqnum != v.seq || id.RootHash != v.root {
			continue
		}
		k = id.K
		for _, s := range ver.Shares {
			have[uint64(s.Num)] = true
		}
	}
	return k, have
}

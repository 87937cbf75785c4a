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
// one share of the newest claimed version is read and verified
// (claimedReads). A claim is never trusted for a version: the version is
// the one that read verified; the other claims of it stand as shares it
// holds (Version.Claimed), as a watch acknowledgement says, and a
// retrieve reads and verifies only shares it verified itself.

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

// claimedReads reads and verifies claimed shares, newest claimed version
// first, only until a version is proven: one share of it verified. The
// other claims of that version stand unread, as shares it holds
// (Version.Claimed), so that it is recoverable if verified and claimed
// shares together are k; every version with its seqnum is read as far
// too, so uncoordinated writes are still seen; older versions are not
// read. A claimed version that does not verify costs at most one read
// per claimed share (in rounds of 1, 2, 4... reads), at most MaxClaims
// per server, and, as for a listing, at most perServerReads in flight to
// one server.
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

// readVersion reads v's claimed shares until one verifies as v, or none
// is left, files the unread claims under the verified version, and
// reports whether v is recoverable.
func (r *claimReader) readVersion(ctx context.Context, v *claimVersion) bool {
	todo := spread(v.items)
	if r.u.opts.ReadClaimed {
		r.read(ctx, todo)
		todo = nil
	}
	for want := 1; len(todo) > 0 && r.u.proven(v) == nil; want *= 2 {
		var batch []claimed
		batch, todo = pick(todo, want)
		r.read(ctx, batch)
	}
	return r.u.addClaimed(v, todo)
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

// pick takes up to want items of todo of distinct share numbers, and
// returns them and the items left. If every item left repeats a share
// number taken before, it takes those (a repeat on another server may
// verify where the first did not).
func pick(todo []claimed, want int) (batch, rest []claimed) {
	taken := map[uint64]bool{}
	for _, it := range todo {
		if n := it.claim.Shnum; len(batch) < want && !taken[n] {
			taken[n] = true
			batch = append(batch, it)
		} else {
			rest = append(rest, it)
		}
	}
	return batch, rest
}

// proven returns the verified version claimed version v stands for,
// nil if none of its shares verified yet.
func (u *updater) proven(v *claimVersion) *Version {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.provenLocked(v)
}

func (u *updater) provenLocked(v *claimVersion) *Version {
	for id, ver := range u.versions {
		if id.Seqnum == v.seq && id.RootHash == v.root {
			return ver
		}
	}
	return nil
}

// addClaimed files the claims left unread under v's verified version, if
// one verified, and reports whether that version is recoverable.
func (u *updater) addClaimed(v *claimVersion, unread []claimed) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	ver := u.provenLocked(v)
	if ver == nil {
		return false
	}
	for _, it := range unread {
		ver.Claimed = append(ver.Claimed, ClaimedShare{Num: int(it.claim.Shnum), Server: it.r})
	}
	return ver.Recoverable()
}

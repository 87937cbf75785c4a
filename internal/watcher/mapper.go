package watcher

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// Version is one version of a mutable file whose signature was verified.
type Version struct {
	Seqnum   uint64
	RootHash [mutable.HashLen]byte
	K, N     int
	Size     int64 // plaintext length
}

// newer orders versions by seqnum, then root hash, as Tahoe does.
func (v Version) newer(o Version) bool {
	if v.Seqnum != o.Seqnum {
		return v.Seqnum > o.Seqnum
	}
	return bytes.Compare(v.RootHash[:], o.RootHash[:]) > 0
}

// Map is what a servermap update found for one mutable file.
type Map struct {
	// Best is the newest recoverable version: at least K distinct shares
	// whose prefix (signature, key, share hash chain) verified. Nil if
	// no version is recoverable.
	Best *Version
	// Holders lists, by server ID, the share numbers each server holds
	// (of any version).
	Holders map[string][]uint64
	// Uncoordinated is set when another recoverable version has Best's
	// seqnum: two writers published without coordinating.
	Uncoordinated bool
	// Stuck is the newest verified version above Best with fewer than K
	// shares, or nil.
	Stuck *Version
}

// Mapper finds the versions of a mutable file on the grid. It must verify
// what it reports: a version in Best has K shares with valid signatures.
type Mapper interface {
	Map(ctx context.Context, c *cap.Mutable) (*Map, error)
}

// Reader reads the plaintext of the version m.Best names (or newer).
type Reader interface {
	Read(ctx context.Context, c *cap.Mutable, m *Map) ([]byte, error)
}

// GridMapper maps and reads mutables over the HTTP storage protocol,
// verifying every share prefix it counts.
type GridMapper struct {
	Servers []*Server
}

// Server is one storage server of the grid with its GBS client.
type Server struct {
	Info   *grid.ServerInfo
	Client *grid.Client
}

// NewServers makes a client for every reachable server of g.
func NewServers(g *grid.Grid) []*Server {
	var out []*Server
	for _, info := range g.Reachable() {
		c, err := info.Client(nil)
		if err != nil {
			continue
		}
		out = append(out, &Server{Info: info, Client: c})
	}
	return out
}

// prefixRead is how much of a share the first read asks for: the whole
// prefix of typical SDMF and MDMF shares.
const prefixRead = 2048

type verifiedShare struct {
	server string
	shnum  uint64
	v      Version
}

// Map lists and verifies the shares of c on every server.
func (g *GridMapper) Map(ctx context.Context, c *cap.Mutable) (*Map, error) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		shares  []verifiedShare
		holders = map[string][]uint64{}
		errs    []error
	)
	for _, s := range g.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nums, vs, err := mapServer(ctx, s, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if len(nums) > 0 {
				holders[s.Info.ID] = nums
			}
			shares = append(shares, vs...)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(errs) == len(g.Servers) && len(errs) > 0 {
		return nil, errkind.E("watcher.Map", errkind.Unreachable, errors.Join(errs...))
	}
	m := tally(shares)
	m.Holders = holders
	return m, nil
}

// tally groups verified shares by version and picks the newest
// recoverable one.
func tally(shares []verifiedShare) *Map {
	byVersion := map[Version]map[uint64]bool{}
	for _, s := range shares {
		if byVersion[s.v] == nil {
			byVersion[s.v] = map[uint64]bool{}
		}
		byVersion[s.v][s.shnum] = true
	}
	m := &Map{}
	for v, nums := range byVersion {
		if len(nums) >= v.K && (m.Best == nil || v.newer(*m.Best)) {
			m.Best = &v
		}
	}
	for v, nums := range byVersion {
		switch {
		case m.Best == nil || v.newer(*m.Best) && v.Seqnum > m.Best.Seqnum:
			if len(nums) < v.K && (m.Stuck == nil || v.newer(*m.Stuck)) {
				m.Stuck = &v
			}
		case v != *m.Best && v.Seqnum == m.Best.Seqnum && len(nums) >= v.K:
			m.Uncoordinated = true
		}
	}
	return m
}

// mapServer lists c's shares on s and verifies each one's prefix. A share
// that fails verification is left out (and so can never make a version
// recoverable).
func mapServer(ctx context.Context, s *Server, c *cap.Mutable) ([]uint64, []verifiedShare, error) {
	nums, err := s.Client.ListShares(ctx, grid.Mutable, c.SI)
	if err != nil {
		return nil, nil, err
	}
	var out []verifiedShare
	for _, n := range nums {
		v, err := readPrefix(ctx, s.Client, c, n)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			continue
		}
		out = append(out, verifiedShare{server: s.Info.ID, shnum: n, v: v})
	}
	return nums, out, nil
}

// readPrefix reads and verifies the prefix of share n.
func readPrefix(ctx context.Context, c *grid.Client, cp *cap.Mutable, n uint64) (Version, error) {
	b, err := c.ReadShare(ctx, grid.Mutable, cp.SI, n, 0, prefixRead)
	if err != nil {
		return Version{}, err
	}
	need, err := mutable.PrefixNeeded(b)
	if err != nil {
		return Version{}, err
	}
	if need > len(b) && len(b) == prefixRead {
		more, err := c.ReadShare(ctx, grid.Mutable, cp.SI, n, int64(len(b)), int64(need-len(b)))
		if err != nil {
			return Version{}, err
		}
		b = append(b, more...)
	}
	p, err := mutable.VerifyPrefix(int(n), b, cp.Fingerprint)
	if err != nil {
		return Version{}, err
	}
	return Version{Seqnum: p.Seqnum, RootHash: p.RootHash, K: p.K, N: p.N, Size: p.DataLength}, nil
}

// Read reads whole shares from the servers holding them and decodes the
// newest recoverable version, verifying every block.
func (g *GridMapper) Read(ctx context.Context, c *cap.Mutable, m *Map) ([]byte, error) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		shares = map[int][]byte{}
	)
	for _, s := range g.Servers {
		for _, n := range m.Holders[s.Info.ID] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := s.Client.ReadShare(ctx, grid.Mutable, c.SI, n, 0, -1)
				if err != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				shares[int(n)] = b
			}()
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return mutable.Decode(c.Readkey, c.Fingerprint, shares)
}

// header is the start of every mutable share: version byte, seqnum and
// root hash. A poll reads only this.
const headerPeek = 1 + 8 + mutable.HashLen

// peekHeader reads the seqnum and root hash of share n on s: the poll.
func peekHeader(ctx context.Context, c *grid.Client, si []byte, n uint64) (uint64, error) {
	b, err := c.ReadShare(ctx, grid.Mutable, si, n, 0, headerPeek)
	if err != nil {
		return 0, err
	}
	if len(b) < headerPeek {
		return 0, errkind.E("watcher.poll", errkind.Invalid, "share %d: short header (%d bytes)", n, len(b))
	}
	var seq uint64
	for _, x := range b[1:9] {
		seq = seq<<8 | uint64(x)
	}
	return seq, nil
}

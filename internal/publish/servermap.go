package publish

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// Checkstring lengths: the first bytes of a share that identify its
// version. SDMF: version, seqnum, root hash, IV; MDMF: version, seqnum,
// root hash.
const (
	sdmfCheckLen = 1 + 8 + mutable.HashLen + mutable.SaltLen
	mdmfCheckLen = 1 + 8 + mutable.HashLen
)

// prefixRead is how much of a share the first read asks for: enough for
// the whole prefix of a 2048-bit key's share at any N.
const prefixRead = 4096

// ShareInfo is one share a server holds for a slot.
type ShareInfo struct {
	Server      *grid.ServerInfo
	Num         int
	Checkstring []byte          // the share's first bytes, as a test vector compares them
	Prefix      *mutable.Prefix // verified against the cap; nil if the share is bad
	Err         error           // why Prefix is nil
}

// Seqnum is the share's sequence number from its checkstring.
func (s ShareInfo) Seqnum() uint64 { return binary.BigEndian.Uint64(s.Checkstring[1:9]) }

// Map is what a servermap update learned about one mutable slot: which
// servers answered and which shares each holds, with their versions.
type Map struct {
	Cap       *cap.Mutable
	Servers   []*grid.ServerInfo // servers that answered, in permuted order
	Shares    []ShareInfo        // in permuted server order, then share number
	Failed    map[string]error   // by server ID: servers that did not answer
	MaxSeqnum uint64             // highest seqnum seen on any share, good or bad
}

// checkstring returns the checkstring at the start of share data b.
func checkstring(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty share")
	}
	n := sdmfCheckLen
	if b[0] == byte(mutable.MDMF) {
		n = mdmfCheckLen
	} else if b[0] != byte(mutable.SDMF) {
		return nil, fmt.Errorf("unknown share version %d", b[0])
	}
	if len(b) < n {
		return nil, fmt.Errorf("share too short (%d bytes)", len(b))
	}
	return bytes.Clone(b[:n]), nil
}

// Map finds every share of c's slot on the grid's servers.
func (p *Publisher) Map(ctx context.Context, c *cap.Mutable) (*Map, error) {
	const op = "publish.Map"
	si := c.StorageIndex()
	servers := p.Grid.Permuted(si)
	if len(servers) == 0 {
		return nil, errkind.E(op, errkind.Unreachable, "the grid has no reachable storage servers")
	}
	found := make([][]ShareInfo, len(servers))
	errs := make([]error, len(servers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.parallel())
	for i, s := range servers {
		g.Go(func() error {
			found[i], errs[i] = p.mapServer(gctx, s, c)
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	m := &Map{Cap: c, Failed: map[string]error{}}
	for i, s := range servers {
		if errs[i] != nil {
			m.Failed[s.ID] = errs[i]
			continue
		}
		m.Servers = append(m.Servers, s)
		for _, sh := range found[i] {
			m.MaxSeqnum = max(m.MaxSeqnum, sh.Seqnum())
			m.Shares = append(m.Shares, sh)
		}
	}
	if len(m.Servers) == 0 {
		return nil, errkind.E(op, errkind.Unreachable, "no storage server answered: %w", firstErr(errs))
	}
	return m, nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// mapServer reads the prefix of every share s holds for c.
func (p *Publisher) mapServer(ctx context.Context, s *grid.ServerInfo, c *cap.Mutable) ([]ShareInfo, error) {
	st, err := p.Dial(s)
	if err != nil {
		return nil, err
	}
	si := c.StorageIndex()
	nums, err := st.ListShares(ctx, grid.Mutable, si)
	if err != nil {
		return nil, err
	}
	var out []ShareInfo
	for _, n := range nums {
		b, err := st.ReadShare(ctx, grid.Mutable, si, n, 0, prefixRead)
		if err != nil {
			return nil, err
		}
		cs, err := checkstring(b)
		if err != nil {
			continue // not a share we can test against; leave it alone
		}
		info := ShareInfo{Server: s, Num: int(n), Checkstring: cs}
		if need, err := mutable.PrefixNeeded(b); err == nil && need > len(b) {
			if b, err = st.ReadShare(ctx, grid.Mutable, si, n, 0, int64(need)); err != nil {
				return nil, err
			}
		}
		info.Prefix, info.Err = mutable.VerifyPrefix(int(n), b, c.Fingerprint)
		out = append(out, info)
	}
	return out, nil
}

// Versions groups the good shares by version.
func (m *Map) Versions() map[mutable.VersionID][]ShareInfo {
	v := map[mutable.VersionID][]ShareInfo{}
	for _, s := range m.Shares {
		if s.Prefix != nil {
			id := s.Prefix.VersionID()
			v[id] = append(v[id], s)
		}
	}
	return v
}

// Best returns the newest recoverable version: the highest seqnum (then
// root hash) among versions with at least k distinct good shares.
func (m *Map) Best() (mutable.VersionID, bool) {
	var best mutable.VersionID
	ok := false
	for id, shares := range m.Versions() {
		nums := map[int]bool{}
		for _, s := range shares {
			nums[s.Num] = true
		}
		if len(nums) < id.K {
			continue
		}
		if !ok || id.Seqnum > best.Seqnum ||
			id.Seqnum == best.Seqnum && bytes.Compare(id.RootHash[:], best.RootHash[:]) > 0 {
			best, ok = id, true
		}
	}
	return best, ok
}

// sharesOf returns one good share per share number of version v.
func (m *Map) sharesOf(v mutable.VersionID) []ShareInfo {
	seen := map[int]bool{}
	var out []ShareInfo
	for _, s := range m.Versions()[v] {
		if !seen[s.Num] {
			seen[s.Num] = true
			out = append(out, s)
		}
	}
	return out
}

// Read downloads version v and returns its plaintext. It fetches k
// shares, and the rest only if those do not decode.
func (p *Publisher) Read(ctx context.Context, m *Map, v mutable.VersionID) ([]byte, error) {
	const op = "publish.Read"
	shares := m.sharesOf(v)
	if len(shares) < v.K {
		return nil, errkind.E(op, errkind.Unrecoverable, "version %d has %d of the %d shares needed", v.Seqnum, len(shares), v.K)
	}
	got := map[int][]byte{}
	var lastErr error
	for _, batch := range [][]ShareInfo{shares[:v.K], shares[v.K:]} {
		if len(batch) == 0 {
			break
		}
		if err := p.fetch(ctx, m.Cap.StorageIndex(), batch, got); err != nil {
			lastErr = err
		}
		if len(got) < v.K {
			continue
		}
		pt, err := mutable.Decode(m.Cap.Readkey, m.Cap.Fingerprint, got)
		if err == nil {
			return pt, nil
		}
		lastErr = err
	}
	if err := ctx.Err(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	return nil, errkind.E(op, errkind.Unrecoverable, "could not read version %d: %v", v.Seqnum, lastErr)
}

// fetch reads whole shares into got, concurrently; it returns the last
// error of those that failed.
func (p *Publisher) fetch(ctx context.Context, si []byte, shares []ShareInfo, got map[int][]byte) error {
	var mu sync.Mutex
	var lastErr error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.parallel())
	for _, s := range shares {
		g.Go(func() error {
			var b []byte
			st, err := p.Dial(s.Server)
			if err == nil {
				b, err = st.ReadShare(gctx, grid.Mutable, si, uint64(s.Num), 0, -1)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
			} else {
				got[s.Num] = b
			}
			return nil
		})
	}
	g.Wait()
	return lastErr
}

// privateKey recovers the signing key of m's slot from a good share, or
// returns the one recovered before: a slot's key never changes.
func (p *Publisher) privateKey(ctx context.Context, m *Map) (*rsa.PrivateKey, error) {
	const op = "publish.privateKey"
	id := string(m.Cap.StorageIndex())
	if k, ok := p.keys.Load(id); ok {
		return k.(*rsa.PrivateKey), nil
	}
	var lastErr error
	for _, s := range m.Shares {
		if s.Prefix == nil {
			continue
		}
		priv, err := p.shareKey(ctx, m.Cap, s)
		if err != nil {
			lastErr = err
			continue
		}
		p.keys.Store(id, priv)
		return priv, nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no good share found")
	}
	return nil, errkind.E(op, errkind.Unrecoverable, "cannot recover the signing key: %w", lastErr)
}

// shareKey decrypts the private key share s carries. SDMF keeps it at the
// end of the share: read where the mapped prefix says, and if the share
// has since been rewritten with another layout, the whole share.
func (p *Publisher) shareKey(ctx context.Context, c *cap.Mutable, s ShareInfo) (*rsa.PrivateKey, error) {
	if s.Prefix.EncPrivkey != nil {
		return mutable.DecryptPrivateKey(c.Writekey, s.Prefix.EncPrivkey)
	}
	st, err := p.Dial(s.Server)
	if err != nil {
		return nil, err
	}
	r := s.Prefix.Layout.EncPrivkey
	enc, err := st.ReadShare(ctx, grid.Mutable, c.StorageIndex(), uint64(s.Num), r.Start, r.Len())
	if err != nil {
		return nil, err
	}
	if priv, err := mutable.DecryptPrivateKey(c.Writekey, enc); err == nil {
		return priv, nil
	}
	whole, err := st.ReadShare(ctx, grid.Mutable, c.StorageIndex(), uint64(s.Num), 0, -1)
	if err != nil {
		return nil, err
	}
	return mutable.RecoverPrivateKey(c.Writekey, whole)
}

package publish

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
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

// ShareInfo is one share a server holds for a slot.
type ShareInfo struct {
	Server      *grid.ServerInfo
	Num         int
	Checkstring []byte          // the share's first bytes, as a test vector compares them
	Prefix      *mutable.Prefix // verified against the cap; nil if the share is bad

	head []byte // a bad share's first bytes, as read
}

// Seqnum is the share's sequence number from its checkstring.
func (s ShareInfo) Seqnum() uint64 { return seqnumOf(s.Checkstring) }

// Map is a servermap update (mapupdate.Map) seen from a writer's side:
// which servers answered, and every share each holds with the
// checkstring a test vector must match to replace it, bad shares
// included.
type Map struct {
	Cap       *cap.Mutable
	Update    *mapupdate.Map     // the map update this view was built from
	Servers   []*grid.ServerInfo // servers that answered, in permuted order
	Shares    []ShareInfo        // in permuted server order
	Failed    map[string]error   // by server ID: servers that did not answer
	MaxSeqnum uint64             // highest seqnum of any share, good or bad
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

// Map runs a servermap update for c's slot on the grid's servers.
func (p *Publisher) Map(ctx context.Context, c *cap.Mutable) (*Map, error) {
	const op = "publish.Map"
	si := c.StorageIndex()
	var servers []mapupdate.Server
	for _, s := range p.Grid.Permuted(si) {
		ms := mapupdate.Server{ID: s.ID, Name: s.Name()}
		if st, err := p.Dial(s); err != nil {
			ms.Err = err
		} else {
			ms.Source = st
		}
		servers = append(servers, ms)
	}
	if len(servers) == 0 {
		return nil, errkind.E(op, errkind.Unreachable, "the grid has no reachable storage servers")
	}
	mu, err := mapupdate.Update(ctx, c, servers, &mapupdate.Options{Parallel: p.parallel(), Timeout: p.timeout()})
	if err != nil {
		return nil, errkind.E(op, errkind.KindOf(err), err)
	}
	m := &Map{Cap: c, Update: mu, Failed: map[string]error{}}
	good := map[string]map[int]*mapupdate.Share{}
	for _, v := range mu.Versions {
		for _, sh := range v.Shares {
			if good[sh.Server.ID] == nil {
				good[sh.Server.ID] = map[int]*mapupdate.Share{}
			}
			good[sh.Server.ID][sh.Num] = sh
		}
	}
	var lastErr error
	for _, r := range mu.Servers {
		s := p.Grid.Lookup(r.ID)
		if s == nil || r.Source == nil || (r.Err != nil && r.Class != mapupdate.CorruptShare) {
			m.Failed[r.ID] = r.Err
			lastErr = r.Err
			continue
		}
		m.Servers = append(m.Servers, s)
		for _, n := range r.Listed {
			info := ShareInfo{Server: s, Num: n}
			if sh := good[r.ID][n]; sh != nil {
				info.Prefix = sh.Prefix
				info.Checkstring, _ = checkstring(sh.Head)
			} else if b, err := p.readHead(ctx, r.Source, si, n); err == nil {
				info.Checkstring, _ = checkstring(b) // a bad share: still replaceable
				info.head = b
			}
			if info.Checkstring == nil {
				continue // not a share we can test against; leave it alone
			}
			m.MaxSeqnum = max(m.MaxSeqnum, info.Seqnum())
			m.Shares = append(m.Shares, info)
		}
	}
	if len(m.Servers) == 0 {
		return nil, errkind.E(op, errkind.Unreachable, "no storage server answered: %v", lastErr)
	}
	return m, nil
}

// readHead reads the header of share n (its checkstring first).
func (p *Publisher) readHead(ctx context.Context, src mapupdate.Source, si []byte, n int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	return src.ReadShare(ctx, grid.Mutable, si, uint64(n), 0, mutable.MaxHeaderLen)
}

// unverifiedParams returns the encoding the newest bad share's header
// states, for a file with no valid version at all: what a streamed
// write that never finished leaves (its provisional header carries the
// real encoding). Unverified, so used only to replace such a file.
func (m *Map) unverifiedParams() (*mutable.Header, bool) {
	var best *mutable.Header
	for _, sh := range m.Shares {
		if sh.Prefix != nil || sh.head == nil {
			continue
		}
		h, err := mutable.ParseHeader(sh.head)
		if err != nil || h.K < 1 || h.N < h.K || h.N > mutable.MaxShares {
			continue
		}
		if best == nil || h.Seqnum > best.Seqnum {
			best = h
		}
	}
	return best, best != nil
}

// Best returns the newest recoverable version, if any.
func (m *Map) Best() (*mapupdate.Version, bool) { return m.Update.Best, m.Update.Best != nil }

// Read downloads version v and returns its plaintext.
func (p *Publisher) Read(ctx context.Context, m *Map, v *mapupdate.Version) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := retrieve.Mutable(ctx, &buf, m.Cap.Readkey, m.Cap.StorageIndex(), v, &retrieve.Options{Timeout: p.timeout()}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
	for _, s := range m.Shares { // no good share: an unfinished streamed write's
		priv, err := p.unverifiedShareKey(ctx, m.Cap, s)
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

// unverifiedShareKey reads the private key where a bad MDMF share's own
// header says it is (right after the header, where a streamed write in
// progress leaves the previous version's). The key proves itself: it
// must hash to the cap's writekey.
func (p *Publisher) unverifiedShareKey(ctx context.Context, c *cap.Mutable, s ShareInfo) (*rsa.PrivateKey, error) {
	if s.Prefix != nil || s.head == nil {
		return nil, fmt.Errorf("share %d has no header to read", s.Num)
	}
	h, err := mutable.ParseHeader(s.head)
	if err != nil {
		return nil, err
	}
	r := h.Layout.EncPrivkey
	if h.Version != mutable.MDMF || r.Start < int64(h.HeaderLen()) || r.Len() <= 0 || r.Len() > 8192 {
		return nil, fmt.Errorf("share %d: no private key where its header says", s.Num)
	}
	st, err := p.Dial(s.Server)
	if err != nil {
		return nil, err
	}
	enc, err := st.ReadShare(ctx, grid.Mutable, c.StorageIndex(), uint64(s.Num), r.Start, r.Len())
	if err != nil {
		return nil, err
	}
	return mutable.DecryptPrivateKey(c.Writekey, enc)
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

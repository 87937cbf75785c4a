package watcher

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
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
	// Down lists the servers that did not answer (timeout, refused,
	// unreachable); Skipped those not asked because they were known to
	// be down. Holders says nothing of either.
	Down, Skipped []string
	// Bad lists the shares that failed verification, by server.
	Bad []BadShare
	// Seqnums holds, by server ID, the highest seqnum among the verified
	// shares each server holds: a server whose seqnum goes down rolled
	// its shares back.
	Seqnums map[string]uint64

	raw *mapupdate.Map // for reading, when a GridMapper made it
}

// BadShare is a share that failed verification, and why.
type BadShare struct {
	Server string // ID
	Shnum  uint64
	Reason string // for a user: no Go identifiers, no keys
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

// GridMapper maps mutables with a servermap update (internal/mapupdate)
// and reads them with internal/retrieve, which verify every share they
// count and every block they decode.
type GridMapper struct {
	R *retrieve.Reader
	// Timeout bounds each server's part of a map; default
	// DefaultMapTimeout.
	Timeout time.Duration
	// Skip, if set, leaves out the servers it names (unless it names
	// every one): a Watcher skips servers known to be down.
	Skip func(serverID string) bool
}

// Server is one storage server of the grid with its GBS client, used to
// dial its watch endpoint and to poll it.
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

// Map runs a servermap update of c. It fails only when no server
// answered at all (or ctx ended).
func (g *GridMapper) Map(ctx context.Context, c *cap.Mutable) (*Map, error) {
	return g.MapClaimed(ctx, c, nil)
}

// MapClaimed is Map, taking claims[id] (a server's watch acknowledgement)
// as what server id holds instead of listing it: only the shares needed
// to verify the newest claimed versions are read (mapupdate.Claim), and
// the other claims stand, unverified, as the holders.
func (g *GridMapper) MapClaimed(ctx context.Context, c *cap.Mutable, claims map[string][]mapupdate.Claim) (*Map, error) {
	servers, skipped := g.servers(c.SI)
	for i := range servers {
		if cs, ok := claims[servers[i].ID]; ok {
			servers[i].Claimed, servers[i].Claims = true, cs
		}
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultMapTimeout
	}
	// A directory is read after its map: its claimed shares are verified
	// now rather than by a second, full map.
	um, err := mapupdate.Update(ctx, c, servers, &mapupdate.Options{Timeout: timeout, ReadClaimed: c.Dir})
	if err != nil {
		return nil, err
	}
	m := &Map{Holders: map[string][]uint64{}, raw: um, Skipped: skipped}
	var errs []error
	for _, r := range um.Servers {
		if r.Err != nil && len(r.Listed) == 0 {
			errs = append(errs, r.Err)
			switch mapupdate.Classify(r.Err) {
			case mapupdate.Timeout, mapupdate.Refused, mapupdate.Unreachable:
				m.Down = append(m.Down, r.ID)
			}
		}
		for _, n := range r.Listed {
			m.Holders[r.ID] = append(m.Holders[r.ID], uint64(n))
		}
		for n, err := range r.Corrupt {
			m.Bad = append(m.Bad, BadShare{Server: r.ID, Shnum: uint64(n), Reason: mapupdate.Reason(err)})
		}
	}
	m.Seqnums = map[string]uint64{}
	for _, v := range um.Versions {
		for _, s := range v.Shares {
			m.Seqnums[s.Server.ID] = max(m.Seqnums[s.Server.ID], v.ID.Seqnum)
		}
	}
	if len(errs) > 0 && len(errs) == len(um.Servers) {
		return nil, errkind.E("watcher.Map", errkind.Unreachable, errors.Join(errs...))
	}
	if um.Best != nil {
		v := versionOf(um.Best)
		m.Best = &v
		for _, vs := range um.Uncoordinated {
			if len(vs) > 0 && vs[0].ID.Seqnum == v.Seqnum {
				m.Uncoordinated = true
			}
		}
	}
	if len(um.Newer) > 0 {
		v := versionOf(um.Newer[0])
		m.Stuck = &v
	}
	return m, nil
}

// servers returns the servers to ask for si, in permuted order, and the
// IDs of those Skip leaves out. If Skip would leave none, all are asked.
func (g *GridMapper) servers(si []byte) ([]mapupdate.Server, []string) {
	all := g.R.Servers(si)
	if g.Skip == nil {
		return all, nil
	}
	var ask []mapupdate.Server
	var skipped []string
	for _, s := range all {
		if g.Skip(s.ID) {
			skipped = append(skipped, s.ID)
		} else {
			ask = append(ask, s)
		}
	}
	if len(ask) == 0 {
		return all, nil
	}
	return ask, skipped
}

func versionOf(v *mapupdate.Version) Version {
	return Version{Seqnum: v.ID.Seqnum, RootHash: v.ID.RootHash, K: v.ID.K, N: v.ID.N, Size: v.ID.DataLength}
}

// Read decodes m's best version, verifying every block.
func (g *GridMapper) Read(ctx context.Context, c *cap.Mutable, m *Map) ([]byte, error) {
	if m.raw == nil || m.raw.Best == nil {
		return nil, errkind.E("watcher.Read", errkind.Unrecoverable, "%s: no recoverable version", cap.Abbrev(c))
	}
	v := m.raw.Best
	if v.Verified() < v.ID.K {
		var err error
		if v, err = g.verifiedVersion(ctx, c, v.ID); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if _, err := retrieve.Mutable(ctx, &buf, c.Readkey, c.SI, v, nil); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// verifiedVersion maps c again, reading every share, for version id: a
// map from the servers' claims verified only one share of its version,
// and a retrieve reads only verified shares.
func (g *GridMapper) verifiedVersion(ctx context.Context, c *cap.Mutable, id mutable.VersionID) (*mapupdate.Version, error) {
	full, err := g.Map(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, v := range full.raw.Versions {
		if v.ID == id && v.Recoverable() {
			return v, nil
		}
	}
	return nil, errkind.E("watcher.Read", errkind.Unrecoverable, "%s: seqnum %d is no longer recoverable", cap.Abbrev(c), id.Seqnum)
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

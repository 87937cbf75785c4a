package publish

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// Publisher writes mutable files to the servers of a grid.
type Publisher struct {
	Grid *grid.Grid
	// Dial returns the client for a server; (*Clients).Dial is the usual
	// choice.
	Dial func(*grid.ServerInfo) (Storage, error)
	// Happy is how many servers must end up holding distinct shares of a
	// new version for a publish to succeed (Tahoe's shares.happy); 0
	// means 1.
	Happy int
	// LeaseSecret is the client's master lease secret, from which lease
	// renewal and cancel secrets are derived; nil means a random one, so
	// that leases cannot be renewed by a later run.
	LeaseSecret []byte
	// Parallel limits concurrent requests; 0 means 8.
	Parallel int
	// Timeout bounds each request to a server (and each server's part of
	// a map update); a server that does not answer in time is treated as
	// failed and its shares go elsewhere. 0 means 30s.
	Timeout time.Duration

	keys sync.Map // storage index → *rsa.PrivateKey recovered from shares
}

// Params are the encoding parameters of a new mutable file.
type Params struct {
	Format      cap.Format // cap.SDMF or cap.MDMF
	Dir         bool       // a directory: the cap is URI:DIR2 or URI:DIR2-MDMF
	K, N        int        // shares needed, shares total
	SegmentSize int        // MDMF segment size; 0 means Tahoe's default
}

// Result describes a successful publish.
type Result struct {
	Cap       *cap.Mutable
	Seqnum    uint64
	Placed    map[string][]int // share numbers of the new version, by server name
	Happiness int              // servers holding distinct shares of the new version
	Shares    int              // distinct share numbers of the new version placed
	Needed    int              // shares needed to read the version (k)
	Total     int              // shares the version was encoded into (N)
	// Superseded is set when a concurrent writer's newer version replaced
	// some of ours while we wrote: the file moved on past our version.
	Superseded bool
}

// Recoverable reports whether enough distinct shares of the new version
// landed for readers to see it.
func (r *Result) Recoverable() bool { return r.Needed > 0 && r.Shares >= r.Needed }

func (p *Publisher) parallel() int {
	if p.Parallel > 0 {
		return p.Parallel
	}
	return 8
}

func (p *Publisher) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return 30 * time.Second
}

func (p *Publisher) happy() int { return max(p.Happy, 1) }

// leaseSecret returns the master lease secret, or a random one.
func (p *Publisher) leaseSecret() []byte {
	if p.LeaseSecret != nil {
		return p.LeaseSecret
	}
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// Create publishes plaintext as a new mutable file signed by priv and
// returns its write cap in the result. A fresh key (rsakey.Generate)
// makes a new file; a given key makes the file whose cap that key
// determines, and fails with Conflict if it already has shares.
func (p *Publisher) Create(ctx context.Context, priv *rsa.PrivateKey, plaintext []byte, prm Params) (*Result, error) {
	const op = "publish.Create"
	w, ep, err := p.createWriter(op, priv, prm)
	if err != nil {
		return nil, err
	}
	return w.encodeRun(ctx, op, priv, plaintext, ep)
}

// createWriter sets up the writer of a new file: share i on the i-th
// permuted server, wrapping around.
func (p *Publisher) createWriter(op string, priv *rsa.PrivateKey, prm Params) (*writer, mutable.Params, error) {
	if prm.Format != cap.SDMF && prm.Format != cap.MDMF {
		return nil, mutable.Params{}, errkind.E(op, errkind.Usage, "unknown mutable format %d", prm.Format)
	}
	c := cap.NewMutable(prm.Format, prm.Dir, priv)
	servers := p.Grid.Permuted(c.StorageIndex())
	if len(servers) == 0 {
		return nil, mutable.Params{}, errkind.E(op, errkind.Unreachable, "the grid has no reachable storage servers")
	}
	var plan []*placement
	for i := range prm.N {
		if i < len(servers) {
			plan = append(plan, &placement{server: servers[i], shares: map[int][]byte{}})
		}
		plan[i%len(servers)].shares[i] = nil
	}
	w := &writer{p: p, c: c, seqnum: 1, plan: plan, spare: servers}
	return w, encParams(prm.Format, prm.K, prm.N, prm.SegmentSize, 1), nil
}

// encodeRun encodes plaintext whole and publishes it.
func (w *writer) encodeRun(ctx context.Context, op string, priv *rsa.PrivateKey, plaintext []byte, ep mutable.Params) (*Result, error) {
	enc, err := mutable.Encode(priv, plaintext, ep)
	if err != nil {
		return nil, errkind.E(op, errkind.KindOf(err), err)
	}
	w.enc = enc
	return w.run(ctx, op)
}

func encParams(f cap.Format, k, n, segsize int, seqnum uint64) mutable.Params {
	v := mutable.SDMF
	if f == cap.MDMF {
		v = mutable.MDMF
	}
	return mutable.Params{Version: v, K: k, N: n, SegmentSize: segsize, Seqnum: seqnum}
}

// Update publishes plaintext as the next version of the file m maps:
// sequence number one above any seen, the same format, k and N as the
// newest recoverable version, every share written where m found it (and
// missing ones on the servers holding fewest), each tested against the
// checkstring m saw. c must be a write cap.
func (p *Publisher) Update(ctx context.Context, m *Map, plaintext []byte) (*Result, error) {
	const op = "publish.Update"
	w, priv, ep, err := p.updateWriter(ctx, op, m)
	if err != nil {
		return nil, err
	}
	return w.encodeRun(ctx, op, priv, plaintext, ep)
}

// updateWriter sets up the writer of the next version of the file m maps.
func (p *Publisher) updateWriter(ctx context.Context, op string, m *Map) (*writer, *rsa.PrivateKey, mutable.Params, error) {
	var none mutable.Params
	c := m.Cap
	if c.Access != cap.Write {
		return nil, nil, none, errkind.E(op, errkind.Usage, "a read-only cap cannot update a file")
	}
	// The encoding comes from the newest recoverable version, else from
	// the newest version seen: replacing a file needs no old contents,
	// so a write in progress elsewhere (no version recoverable for now)
	// does not stop it; the lead server's test orders the two.
	var id mutable.VersionID
	best, err := m.best(op)
	switch {
	case err == nil:
		id = best.ID
	case len(m.Update.Versions) > 0:
		id = m.Update.Versions[0].ID
	default:
		// No valid version, only shares that do not verify: a streamed
		// write in progress or abandoned (its shares verify only once
		// it ends), or damage. Their headers give the encoding.
		h, ok := m.unverifiedParams()
		if !ok {
			return nil, nil, none, err
		}
		id = h.VersionID()
	}
	priv, err := p.privateKey(ctx, m)
	if err != nil {
		return nil, nil, none, err
	}
	seq := m.MaxSeqnum + 1
	w := &writer{p: p, c: c, seqnum: seq, plan: updatePlan(m, id.N), spare: m.Servers, held: m.held}
	return w, priv, mutable.Params{Version: id.Version, K: id.K, N: id.N, Seqnum: seq}, nil
}

// best is Best with the error a writer reports when there is none.
func (m *Map) best(op string) (*mapupdate.Version, error) {
	best, ok := m.Best()
	if ok {
		return best, nil
	}
	if len(m.Shares) == 0 {
		return best, errkind.E(op, errkind.NotFound, "no shares of %s found on %d servers", cap.Abbrev(m.Cap), len(m.Servers))
	}
	return best, errkind.E(op, errkind.Unrecoverable, "no recoverable version of %s among %d shares", cap.Abbrev(m.Cap), len(m.Shares))
}

// held returns the checkstring server s holds for share n, nil if none.
func (m *Map) held(s *grid.ServerInfo, n int) []byte {
	for _, sh := range m.Shares {
		if sh.Server.ID == s.ID && sh.Num == n {
			return sh.Checkstring
		}
	}
	return nil
}

// updatePlan keeps every share where it is and places share numbers
// nobody holds on the answering servers with the fewest shares.
func updatePlan(m *Map, n int) []*placement {
	byID := map[string]*placement{}
	var plan []*placement
	for _, s := range m.Servers {
		pl := &placement{server: s, shares: map[int][]byte{}}
		byID[s.ID] = pl
		plan = append(plan, pl)
	}
	have := map[int]bool{}
	for _, sh := range m.Shares {
		if sh.Num < n {
			byID[sh.Server.ID].shares[sh.Num] = sh.Checkstring
			have[sh.Num] = true
		}
	}
	for i := range n {
		if have[i] {
			continue
		}
		least := plan[0]
		for _, pl := range plan[1:] {
			if len(pl.shares) < len(least.shares) {
				least = pl
			}
		}
		least.shares[i] = nil
	}
	return plan
}

// placement is one server's part of a publish: share numbers with the
// checkstring each is expected to hold now (nil: no share).
type placement struct {
	server *grid.ServerInfo
	shares map[int][]byte
}

// secrets derives the per-server secrets of a read-test-write.
func secrets(c *cap.Mutable, master []byte, s *grid.ServerInfo) (grid.Secrets, error) {
	id := s.WriteEnablerID()
	if id == nil {
		return grid.Secrets{}, fmt.Errorf("server %s has no write-enabler id", s.Name())
	}
	si := c.StorageIndex()
	renew := hashes.FileRenewalSecret(hashes.ClientRenewalSecret(master), si)
	cancel := hashes.FileCancelSecret(hashes.ClientCancelSecret(master), si)
	return grid.Secrets{
		WriteEnabler: hashes.WriteEnabler(c.Writekey, id),
		LeaseRenew:   hashes.BucketRenewalSecret(renew, id),
		LeaseCancel:  hashes.BucketCancelSecret(cancel, id),
	}, nil
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

package publish

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Delete removes the shares of c's slot from every server that answers,
// each only if it still holds what the map saw (a share another writer
// replaced since is left alone). It is for undoing a file whose cap never
// left this process, such as a directory made for a link that lost a
// race; Tahoe clients never delete mutable files, but Tahoe's servers do
// it for a read-test-write with new length 0. Shares on servers that do
// not answer stay until their leases expire; the error says where.
func (p *Publisher) Delete(ctx context.Context, c *cap.Mutable) error {
	const op = "publish.Delete"
	m, err := p.Map(ctx, c)
	if err != nil {
		return err
	}
	zero := uint64(0)
	byServer := map[*grid.ServerInfo]map[uint64]grid.TestWrite{}
	for _, s := range m.Shares {
		if byServer[s.Server] == nil {
			byServer[s.Server] = map[uint64]grid.TestWrite{}
		}
		byServer[s.Server][uint64(s.Num)] = grid.TestWrite{Test: []grid.TestVector{testVector(s.Checkstring)},
			Write: []grid.WriteVector{}, NewLength: &zero}
	}
	errs := make([]error, 0, len(byServer)+len(m.Failed))
	for id, err := range m.Failed {
		errs = append(errs, fmt.Errorf("server %s: %w", id, err))
	}
	var g errgroup.Group
	g.SetLimit(p.parallel())
	res := make(chan error, len(byServer))
	for s, tw := range byServer {
		g.Go(func() error { res <- p.deleteOn(ctx, c, s, tw); return nil })
	}
	g.Wait()
	close(res)
	for err := range res {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return errkind.E(op, errkind.KindOf(err), "%s: some shares remain: %w", cap.Abbrev(c), err)
	}
	return nil
}

// deleteOn deletes the shares tw names on server s.
func (p *Publisher) deleteOn(ctx context.Context, c *cap.Mutable, s *grid.ServerInfo, tw map[uint64]grid.TestWrite) error {
	st, err := p.Dial(s)
	if err != nil {
		return err
	}
	sec, err := secrets(c, p.leaseSecret(), s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	r, err := st.ReadTestWrite(ctx, c.StorageIndex(), sec, tw, []grid.ReadVector{})
	if err != nil {
		return err
	}
	if !r.Success {
		return errkind.E("", errkind.Conflict, "server %s: shares changed since they were mapped", s.Name())
	}
	return nil
}

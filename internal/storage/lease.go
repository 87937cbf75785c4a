package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// AddOrRenewLease renews the client's lease on every share of a storage
// index, mutable or immutable, or adds one where it has none; each share
// file is replaced atomically. It returns an errkind.NotFound error when
// no shares are held.
func (b *Backend) AddOrRenewLease(si []byte, renew, cancel []byte) error {
	if err := checkArgs(si, renew, cancel); err != nil {
		return err
	}
	unlock := b.lock(si)
	defer unlock()
	nums, err := b.shareNumbers(si, container.Unknown)
	if err != nil {
		return err
	}
	if len(nums) == 0 {
		return errkind.E("storage.AddOrRenewLease", errkind.NotFound, "no shares for this storage index")
	}
	return b.addLeaseLocked(si, nums, renew, cancel)
}

func (b *Backend) addLeaseLocked(si []byte, nums []int, renew, cancel []byte) error {
	const op = "storage.AddOrRenewLease"
	req := container.NewLeaseRequest(renew, cancel, b.now(), b.nodeID)
	for _, n := range nums {
		path := b.sharePath(si, n)
		raw, err := os.ReadFile(path)
		if err != nil {
			return errkind.E(op, errkind.Other, err)
		}
		sh, err := container.Parse(raw)
		if err != nil {
			b.log.Warn("storage: not renewing lease on unparseable share", "path", path, "err", err)
			continue
		}
		var out []byte
		if sh.Mutable != nil {
			sh.Mutable.AddOrRenewLease(req)
			out = sh.Mutable.Bytes()
		} else {
			sh.Immutable.AddOrRenewLease(req)
			out = sh.Immutable.Bytes()
		}
		if err := replaceFile(path, out); err != nil {
			return errkind.E(op, errkind.Other, err)
		}
	}
	return nil
}

// AdviseCorrupt records a client's report that a share is corrupt in
// BASE/storage/corruption-advisories/, as Tahoe does. The share must
// exist (errkind.NotFound otherwise).
func (b *Backend) AdviseCorrupt(kind container.Kind, si []byte, n int, reason string) error {
	const op = "storage.AdviseCorrupt"
	have, err := b.shareNumbers(si, kind)
	if err != nil {
		return err
	}
	if !containsInt(have, n) {
		return errkind.E(op, errkind.NotFound, "no %s share %d", kind, n)
	}
	dir := filepath.Join(b.dir, "corruption-advisories")
	if err := os.MkdirAll(dir, dirFileMode); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	now := b.now().UTC()
	name := fmt.Sprintf("%s--%s-%d", strings.ReplaceAll(now.Format("2006-01-02T15:04:05.000000"), ":", ""), base32.Encode(si), n)
	report := fmt.Sprintf("report: Share Corruption\ntype: %s\nstorage_index: %s\nshare_number: %d\n\n%s\n\n",
		kind, base32.Encode(si), n, reason)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(report), 0o600); err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	b.log.Warn("storage: client reports corrupt share", "kind", kind.String(), "si", base32.Encode(si), "shnum", n, "reason", reason)
	return nil
}

func containsInt(s []int, n int) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

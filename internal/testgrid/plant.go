package testgrid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// PlantShares is how many shares each planted mutable has (3-of-5):
// share i goes to the i-th node directory given to PlantMutables.
const PlantShares = 5

// GenerateKeys generates n RSA signing keys, one per core at a time.
// Generating one takes about 100 ms, so benchmarks that need thousands
// of distinct files draw their signing keys from a small pool of these.
func GenerateKeys(ctx context.Context, n int) ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range keys {
		g.Go(func() (err error) {
			if err := ctx.Err(); err != nil {
				return err
			}
			keys[i], err = rsakey.Generate()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, errkind.E("testgrid.GenerateKeys", errkind.Other, err)
	}
	return keys, nil
}

// PlantMutables writes n distinct 3-of-5 SDMF mutable files straight
// into the share directories of the node directories bases (share i of
// every file in bases[i], Base/storage/shares/<prefix>/<SI>/<i>, at most
// PlantShares of them), as publishing them would leave them but without
// a publish's round trips. Every file has its own random write key (so
// its own storage index), contents ("planted file J") and seqnum
// (1 + J mod 97), and so its own signed prefix and signature; file J is
// signed by keys[J mod len(keys)], whose fingerprint its cap carries.
// The share containers carry a zero write enabler: the files can be
// mapped and watched, not written through the protocol.
//
// A file's cap and its signing key do not belong together as Tahoe's do
// (there the write key is a hash of the private key, one key per file):
// mutable.Encode encrypts the contents, and the private key, under the
// signing key's own keys. A reader through the cap verifies everything
// (signature, fingerprint, hash chains) and gets the contents' length
// and seqnum right, but not their text; the watcher, which verifies and
// does not decrypt, sees real, distinct versions.
//
// Files are encoded and written by several goroutines at once (twice
// GOMAXPROCS, so disk writes overlap the RSA signing that dominates the
// CPU); it returns the read caps, file J at index J.
func PlantMutables(ctx context.Context, bases []string, keys []*rsa.PrivateKey, n int) ([]cap.Cap, error) {
	const op = "testgrid.PlantMutables"
	if len(bases) > PlantShares || len(keys) == 0 {
		return nil, errkind.E(op, errkind.Usage, "want 1 to %d node directories and a signing key, got %d and %d",
			PlantShares, len(bases), len(keys))
	}
	fps := make([][]byte, len(keys))
	for i, k := range keys {
		fps[i] = hashes.SSKPubkeyFingerprint(rsakey.PublicDER(&k.PublicKey))
	}
	caps := make([]cap.Cap, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * runtime.GOMAXPROCS(0))
	for j := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() (err error) {
			caps[j], err = plantOne(bases, keys[j%len(keys)], fps[j%len(keys)], j)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	return caps, nil
}

// plantOne encodes planted file j, signed by priv (fingerprint fp), and
// writes its shares; it returns the file's read cap.
func plantOne(bases []string, priv *rsa.PrivateKey, fp []byte, j int) (cap.Cap, error) {
	wk := make([]byte, cap.KeyLen)
	rand.Read(wk)
	c := cap.NewMutableFromKeys(cap.SDMF, false, wk, fp)
	enc, err := mutable.Encode(priv, []byte(fmt.Sprintf("planted file %d", j)),
		mutable.Params{Version: mutable.SDMF, K: 3, N: PlantShares, Seqnum: uint64(1 + j%97)})
	if err != nil {
		return nil, err
	}
	si := base32.Encode(c.SI)
	for i, base := range bases {
		m := container.NewMutable(container.NewestMutableVersion, [20]byte{}, [32]byte{})
		if err := m.Write(0, enc.Shares[i]); err != nil {
			return nil, err
		}
		dir := filepath.Join(base, "storage", "shares", si[:2], si)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), m.Bytes(), 0o600); err != nil {
			return nil, err
		}
	}
	return c.ReadOnly(), nil
}

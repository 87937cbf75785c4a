package gridconfig

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestPermutedMatchesTahoePlacement checks the permuted ring against where
// Tahoe 1.20 put shares: on a healthy 5-server grid with N=5, share i of
// every mutable object went to the i-th server in permuted order. (CHK
// uploads place shares by a server-of-happiness matching instead, so the
// immutable file is skipped.)
func TestPermutedMatchesTahoePlacement(t *testing.T) {
	c, err := LoadGridFile(context.Background(), testutil.Testdata(t, "grid", "servers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	holder := map[string]map[int]string{} // storage index -> share -> nickname
	root := testutil.Testdata(t, "grid", "shares")
	paths, _ := filepath.Glob(filepath.Join(root, "storage*", "*", "*", "*"))
	for _, p := range paths {
		dir, shnum := filepath.Split(p)
		si := filepath.Base(dir)
		node, _ := filepath.Rel(root, filepath.Dir(filepath.Dir(filepath.Dir(p))))
		n, err := strconv.Atoi(shnum)
		if err != nil {
			continue
		}
		if holder[si] == nil {
			holder[si] = map[int]string{}
		}
		holder[si][n] = node
	}
	if len(holder) < 5 {
		t.Fatalf("only %d storage indexes under %s", len(holder), root)
	}
	for _, o := range testutil.GridObjects(t) {
		if o.Format == "CHK" {
			delete(holder, o.StorageIndex)
		}
	}
	if len(holder) < 6 {
		t.Fatalf("only %d mutable storage indexes", len(holder))
	}
	for si, shares := range holder {
		b, err := base32.DecodeLen(si, 16)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range c.Grid.Permuted(b) {
			if shares[i] != s.Nickname {
				t.Errorf("%s: share %d is on %s, permuted position %d is %s", si, i, shares[i], i, s.Nickname)
			}
		}
	}
}

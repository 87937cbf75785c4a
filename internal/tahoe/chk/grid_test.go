package chk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// chkCap is a parsed URI:CHK: read cap (parsed here, not with the cap
// package, which another engineer owns).
type chkCap struct {
	key []byte
	vc  VerifyCap
}

func parseCHKCap(t *testing.T, s string) chkCap {
	t.Helper()
	f := strings.Split(strings.TrimPrefix(s, "URI:CHK:"), ":")
	if len(f) != 5 {
		t.Fatalf("not a CHK cap: %s", s)
	}
	key, err1 := base32.DecodeLen(f[0], 16)
	ueb, err2 := base32.DecodeLen(f[1], 32)
	k, err3 := strconv.Atoi(f[2])
	n, err4 := strconv.Atoi(f[3])
	size, err5 := strconv.ParseUint(f[4], 10, 64)
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			t.Fatalf("cap %s: %v", s, err)
		}
	}
	return chkCap{key: key, vc: VerifyCap{UEBHash: ueb, K: k, N: n, Size: size}}
}

// stripContainer returns the share data of an on-disk immutable share file.
func stripContainer(t *testing.T, file []byte) []byte {
	t.Helper()
	im, err := container.ParseImmutable(file)
	if err != nil {
		t.Fatalf("share file of %d bytes: %v", len(file), err)
	}
	return im.Data
}

// gridCHK loads every CHK object of the grid capture with its shares.
func gridCHK(t *testing.T) (objs []testutil.GridObject, shares []map[int][]byte) {
	for _, o := range testutil.GridObjects(t) {
		if o.Format != "CHK" || !strings.HasPrefix(o.Readcap, "URI:CHK:") {
			continue
		}
		objs = append(objs, o)
		shares = append(shares, gridShares(t, o.StorageIndex))
	}
	if len(objs) == 0 {
		t.Fatal("no CHK objects in the grid capture")
	}
	return objs, shares
}

func gridShares(t *testing.T, si string) map[int][]byte {
	pattern := testutil.Testdata(t, "grid", "shares", "storage*", si[:2], si, "*")
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no shares for %s: %v", si, err)
	}
	out := map[int][]byte{}
	for _, f := range files {
		num, err := strconv.Atoi(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[num] = stripContainer(t, b)
	}
	return out
}

// subsets lists every k-element subset of 0..n-1.
func subsets(n, k int) [][]int {
	if k == 0 {
		return [][]int{nil}
	}
	var out [][]int
	for first := 0; first <= n-k; first++ {
		for _, rest := range subsets(n-first-1, k-1) {
			s := []int{first}
			for _, r := range rest {
				s = append(s, first+1+r)
			}
			out = append(out, s)
		}
	}
	return out
}

func pick(all map[int][]byte, nums []int) map[int][]byte {
	out := map[int][]byte{}
	for _, n := range nums {
		out[n] = all[n]
	}
	return out
}

func TestGridSharesDecodeFromEveryKSubset(t *testing.T) {
	objs, shares := gridCHK(t)
	for i, o := range objs {
		c := parseCHKCap(t, o.Readcap)
		if len(shares[i]) != c.vc.N {
			t.Fatalf("%s: %d shares, want %d", o.Name, len(shares[i]), c.vc.N)
		}
		for _, sub := range subsets(c.vc.N, c.vc.K) {
			pt, err := Decode(c.key, c.vc, pick(shares[i], sub))
			if err != nil {
				t.Fatalf("%s from shares %v: %v", o.Name, sub, err)
			}
			sum := sha256.Sum256(pt)
			if got := hex.EncodeToString(sum[:]); got != o.PlaintextSHA256 {
				t.Fatalf("%s from shares %v: sha256 %s, want %s", o.Name, sub, got, o.PlaintextSHA256)
			}
		}
	}
}

// TestEncoderReproducesGridShares re-encodes the grid's CHK plaintext with
// the client's convergence secret and checks every share byte for byte
// against what Tahoe-LAFS 1.20 stored (including the share hash chain in
// Python set order).
func TestEncoderReproducesGridShares(t *testing.T) {
	objs, shares := gridCHK(t)
	secretText := strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "client", "private", "convergence")))
	secret, err := base32.Decode(secretText)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		c := parseCHKCap(t, o.Readcap)
		pt := testutil.ReadTestdata(t, "grid", o.PlaintextFile)
		e, err := Encode(pt, secret, Params{K: c.vc.K, N: c.vc.N})
		if err != nil {
			t.Fatal(err)
		}
		if got := capString(e); got != o.Readcap {
			t.Fatalf("%s: cap %s, want %s", o.Name, got, o.Readcap)
		}
		if got := base32.Encode(e.StorageIndex); got != o.StorageIndex {
			t.Errorf("%s: storage index %s, want %s", o.Name, got, o.StorageIndex)
		}
		for num, want := range shares[i] {
			if !bytes.Equal(e.Shares[num], want) {
				t.Errorf("%s: share %d differs from Tahoe's (%d vs %d bytes)", o.Name, num, len(e.Shares[num]), len(want))
			}
		}
	}
}

// TestStreamReproducesGridShares: the streaming encoder, piece by piece
// in write order, yields exactly the shares Tahoe-LAFS 1.20 stored.
func TestStreamReproducesGridShares(t *testing.T) {
	objs, shares := gridCHK(t)
	secretText := strings.TrimSpace(string(testutil.ReadTestdata(t, "grid", "nodes", "client", "private", "convergence")))
	secret, err := base32.Decode(secretText)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		c := parseCHKCap(t, o.Readcap)
		pt := testutil.ReadTestdata(t, "grid", o.PlaintextFile)
		got, s, tail := streamShares(t, pt, secret, Params{K: c.vc.K, N: c.vc.N})
		e := &Encoded{Key: s.Key(), UEBHash: tail.UEBHash, K: c.vc.K, N: c.vc.N, Size: s.Size()}
		if capString(e) != o.Readcap {
			t.Fatalf("%s: cap %s, want %s", o.Name, capString(e), o.Readcap)
		}
		if len(shares[i]) == 0 {
			t.Fatalf("%s: no captured shares", o.Name)
		}
		for num, want := range shares[i] {
			if !bytes.Equal(got[num], want) {
				t.Errorf("%s: share %d differs from Tahoe's (%d vs %d bytes)", o.Name, num, len(got[num]), len(want))
			}
		}
	}
}

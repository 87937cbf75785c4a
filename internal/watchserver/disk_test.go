package watchserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestDiskSourceReadsTahoeShares checks the minimal share reader against
// shares Tahoe-LAFS 1.20 wrote: every mutable object's share on storage1
// carries the fingerprint of the object's verify cap.
func TestDiskSourceReadsTahoeShares(t *testing.T) {
	src := DiskSource{Dir: testutil.Testdata(t, "grid", "shares", "storage1")}
	checked := 0
	for _, o := range testutil.GridObjects(t) {
		if o.StorageIndex == "" {
			continue // literal
		}
		mutable := !strings.Contains(o.Verifycap, "CHK")
		si, err := base32.Decode(o.StorageIndex)
		if err != nil {
			t.Fatal(err)
		}
		states, err := src.MutableShares(context.Background(), si)
		if err != nil {
			t.Fatalf("%s: %v", o.StorageIndex, err)
		}
		if !mutable {
			if len(states) != 0 {
				t.Errorf("%s (%s): immutable share read as mutable", o.StorageIndex, o.Format)
			}
			continue
		}
		fp, err := base32.Decode(strings.Split(o.Verifycap, ":")[3])
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range states {
			if !bytes.Equal(st.Fingerprint[:], fp) || st.Seqnum == 0 {
				t.Errorf("%s share %d: fingerprint %x seqnum %d, want %x", o.StorageIndex, st.Shnum, st.Fingerprint, st.Seqnum, fp)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no mutable shares checked")
	}
	t.Logf("%d mutable shares checked", checked)
}

func TestReadShareRejectsDamage(t *testing.T) {
	dir := testutil.Testdata(t, "grid", "shares", "storage1")
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := ReadShare(bytes.NewReader(b), 0); !ok {
			continue
		}
		for _, n := range []int{0, 100, container.MutableDataOffset + 50, container.MutableDataOffset + 110} {
			if _, ok, err := ReadShare(bytes.NewReader(b[:n]), 0); ok || (n > container.MutableDataOffset && err == nil) {
				t.Errorf("%s truncated to %d: ok %v err %v", p, n, ok, err)
			}
		}
	}
}

func FuzzReadShare(f *testing.F) {
	for _, p := range []string{"dq/dqrkoatek6jcaq4mqnlomig4wq/0", "kv/kv6sea4n2wbyw7fv6ze6rddfwm/0"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "grid", "shares", "storage1", p))
		if err == nil {
			f.Add(b[:min(len(b), 2000)])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadShare(bytes.NewReader(b), 1)
	})
}

// TestReadShareKeyBeyondPrefix: a verification key that the first read
// does not hold is read on its own, with the same result: read every
// Tahoe share with prefixes too short for its key.
func TestReadShareKeyBeyondPrefix(t *testing.T) {
	dir := testutil.Testdata(t, "grid", "shares", "storage1")
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*"))
	checked := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, ok, err := ReadShare(bytes.NewReader(b), 3)
		if !ok || err != nil {
			continue
		}
		for _, n := range []int{container.MutableDataOffset + 123, 600, 1000, 2200} {
			got, ok, err := readShare(bytes.NewReader(b), 3, make([]byte, n))
			if !ok || err != nil || got != want {
				t.Errorf("%s with a %d-byte prefix: %+v %v %v, want %+v", p, n, got, ok, err, want)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no mutable shares checked")
	}
}

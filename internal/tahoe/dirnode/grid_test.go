package dirnode

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func loadGridDir(t testing.TB, name string) (dir testutil.GridObject, writekey, contents []byte) {
	t.Helper()
	for _, o := range testutil.GridObjects(t) {
		if o.Name != name {
			continue
		}
		// URI:DIR2:<writekey>:<fingerprint>
		f := strings.Split(o.Cap, ":")
		wk, err := base32.DecodeLen(f[2], 16)
		if err != nil {
			t.Fatal(err)
		}
		return o, wk, testutil.ReadTestdata(t, "dirnode", name+".plaintext")
	}
	t.Fatalf("no object %q in objects.json", name)
	return
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// gridDirs are the directories of the grid whose contents are in
// testdata/dirnode.
var gridDirs = []string{"dir-sdmf", "dir-mdmf"}

// TestGrid decodes directories Tahoe-LAFS 1.20 wrote and checks them
// against Tahoe's own listing, then checks that packing the entries again
// reproduces Tahoe's bytes exactly.
func TestGrid(t *testing.T) {
	for _, name := range gridDirs {
		t.Run(name, func(t *testing.T) { testGridDir(t, name) })
	}
}

func testGridDir(t *testing.T, name string) {
	dir, wk, contents := loadGridDir(t, name)
	entries, err := Parse(contents, wk)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(dir.Children) {
		t.Fatalf("got %d entries, Tahoe listed %d", len(entries), len(dir.Children))
	}
	for name, want := range dir.Children {
		e, ok := Find(entries, name)
		if !ok {
			t.Errorf("child %q missing", name)
			continue
		}
		if e.ROCap != deref(want.ROURI) || e.RWCap != deref(want.RWURI) {
			t.Errorf("child %q: caps %q, %q; Tahoe listed %q, %q", name, e.ROCap, e.RWCap, deref(want.ROURI), deref(want.RWURI))
		}
		cr, mo, ok := LinkTimes(e.Metadata)
		if !ok || cr.Year() < 2020 || !cr.Equal(mo) {
			t.Errorf("child %q: link times %v %v %v from %s", name, cr, mo, ok, e.Metadata)
		}
	}
	packed, err := Pack(entries, wk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(packed, contents) {
		t.Errorf("Pack does not reproduce Tahoe's bytes:\n got %q\nwant %q", packed, contents)
	}

	// A read-only holder sees the same children without write caps.
	ro, err := Parse(contents, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ro {
		if e.RWCap != "" || e.ROCap != entries[i].ROCap || e.Name != entries[i].Name {
			t.Errorf("read-only view of %q: %+v", e.Name, e)
		}
	}
}

// TestGridSDMFWrongKey: another directory's writekey fails every MAC, so
// no entry is usable, and each is kept as it was.
func TestGridSDMFWrongKey(t *testing.T) {
	_, wk, contents := loadGridDir(t, "dir-sdmf")
	wk[0] ^= 1
	d, err := ParseDir(contents, wk)
	if err != nil || len(d.Entries) != 0 || len(d.Unusable) == 0 {
		t.Fatalf("wrong writekey: %+v, %v", d, err)
	}
	for _, u := range d.Unusable {
		if !strings.Contains(u.Reason, "MAC") {
			t.Errorf("%v", u)
		}
	}
	if again, err := PackDir(d, wk); err != nil || !bytes.Equal(again, contents) {
		t.Fatalf("PackDir changed the contents: %v", err)
	}
}

// TestNewMetadataLikeTahoe: Tahoe's metadata in the grid directories is
// byte for byte what NewMetadata writes for the same instant.
func TestNewMetadataLikeTahoe(t *testing.T) {
	for _, name := range gridDirs {
		_, wk, contents := loadGridDir(t, name)
		entries, err := Parse(contents, wk)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			cr, _, _ := LinkTimes(e.Metadata)
			if got := NewMetadata(cr); !bytes.Equal(got, e.Metadata) {
				t.Errorf("NewMetadata(%v) = %s, Tahoe wrote %s", cr, got, e.Metadata)
			}
		}
	}
	if got := string(NewMetadata(time.Unix(1700000000, 0))); got != `{"tahoe": {"linkcrtime": 1700000000.0, "linkmotime": 1700000000.0}}` {
		t.Errorf("NewMetadata whole second = %s", got)
	}
}

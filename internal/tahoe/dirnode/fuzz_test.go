package dirnode

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// FuzzParse feeds arbitrary contents to ParseDir, with and without a
// writekey. It must never panic; Parse must return ParseDir's entries;
// whatever entries it accepts must pack and parse back to the same
// entries (modulo the prefixes Pack drops), and the unusable entries must
// come back byte for byte; and PackDir's output must be canonical: packed
// again it stays the same bytes.
func FuzzParse(f *testing.F) {
	grid := testutil.ReadTestdata(f, "dirnode", "dir-sdmf.plaintext")
	f.Add(testutil.ReadTestdata(f, "dirnode", "dir-mdmf.plaintext"), true)
	f.Add(grid, false)
	f.Add(grid, true)
	f.Add([]byte(entry("a", capLIT, "", "{}")+entry("cafe\u0301", capSSKR, string(sealedSSK), `{"x": [1]}`)), true)
	f.Add([]byte(entry("a", capLIT, "", "{}")+entry("a", "ro.x", "", "{}")), false)
	f.Add([]byte(ns(ns("a")+ns("b")+ns("")+ns("{}")+"tail")), false)
	f.Add([]byte(entry("\xff", capLIT, "", "{}")+entry("b", capLIT, "", "{}")+ns("zz")+entry("../x", "URI:CHK:x", "", "[")), true)
	f.Add([]byte("0:,"), false)
	f.Add([]byte(""), true)
	f.Fuzz(func(t *testing.T, contents []byte, withKey bool) {
		var wk []byte
		if withKey {
			wk = testWritekey
		}
		d, err := ParseDir(contents, wk)
		entries, perr := Parse(contents, wk)
		if (err == nil) != (perr == nil) {
			t.Fatalf("ParseDir err %v, Parse err %v", err, perr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(entries, d.Entries) {
			t.Fatalf("Parse and ParseDir differ")
		}
		var want []Entry
		for _, e := range entries {
			e.ROCap = strings.TrimRight(roSlot(e.ROCap, wk == nil), " ")
			want = append(want, e)
		}
		packed, err := PackDir(d, wk)
		if err != nil {
			t.Fatalf("PackDir of a parsed directory: %v", err)
		}
		again, err := ParseDir(packed, wk)
		if err != nil {
			t.Fatalf("ParseDir of packed entries: %v", err)
		}
		slices.SortFunc(want, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
		if !reflect.DeepEqual(again.Entries, want) {
			t.Fatalf("round trip changed entries:\n got %+v\nwant %+v", again.Entries, want)
		}
		if !sameRaw(again.Unusable, d.Unusable) {
			t.Fatalf("round trip changed unusable entries:\n got %+v\nwant %+v", again.Unusable, d.Unusable)
		}
		if withKey {
			if repacked, _ := PackDir(again, wk); !bytes.Equal(repacked, packed) {
				t.Fatalf("PackDir is not canonical:\n%q\n%q", packed, repacked)
			}
		}
	})
}

// sameRaw reports whether two lists hold the same raw entries, in any
// order.
func sameRaw(a, b []Unusable) bool {
	raws := func(us []Unusable) []string {
		var out []string
		for _, u := range us {
			out = append(out, string(u.Raw))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(raws(a), raws(b))
}

// FuzzRepackHostile puts one entry built from fuzzed fields (or, with
// whole set, fuzzed bytes as the entry's entire contents) in its sorted
// place in a directory Tahoe wrote. The directory must still parse, with
// every one of Tahoe's entries; and if the fuzzed entry is unusable,
// PackDir must give back the very same bytes: an editor keeps another
// writer's entry whatever it holds.
func FuzzRepackHostile(f *testing.F) {
	_, wk, grid := loadGridDir(f, "dir-sdmf")
	tahoe, err := Parse(grid, wk)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("\xff\xfe"), []byte(capLIT), []byte(""), []byte("{}"), false)
	f.Add([]byte("zz"), []byte("URI:CHK:bad"), []byte(""), []byte("{}"), false)
	f.Add([]byte("a/b"), []byte(capLIT), []byte("short"), []byte("[]"), false)
	f.Add([]byte("1:x,"), []byte{}, []byte{}, []byte{}, true)
	f.Fuzz(func(t *testing.T, name, ro, sealed, md []byte, whole bool) {
		inner := name
		if !whole {
			inner = []byte(ns(string(name)) + ns(string(ro)) + ns(string(sealed)) + ns(string(md)))
		}
		rec := appendNetstring(nil, inner)
		key, _ := Unusable{Raw: rec}.sortKey()
		contents := insertSorted(t, grid, rec, key)
		d, err := ParseDir(contents, wk)
		if err != nil {
			t.Fatalf("a sound entry broke the directory: %v", err)
		}
		if len(d.Unusable) == 0 {
			return // usable: Pack writes it canonically, maybe not as given
		}
		if len(d.Unusable) != 1 || len(d.Entries) != len(tahoe) {
			t.Fatalf("%d usable entries (want %d), %d unusable", len(d.Entries), len(tahoe), len(d.Unusable))
		}
		got, err := PackDir(d, wk)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, contents) {
			t.Fatalf("PackDir changed the directory:\n got %q\nwant %q", got, contents)
		}
	})
}

// insertSorted puts rec into contents after the entries whose names sort
// at or before key.
func insertSorted(t *testing.T, contents, rec []byte, key string) []byte {
	pos := 0
	for pos < len(contents) {
		inner, next, err := readNetstring(contents, pos)
		if err != nil {
			t.Fatal(err)
		}
		name, _, err := readNetstring(inner, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(name) > key {
			break
		}
		pos = next
	}
	out := append([]byte{}, contents[:pos]...)
	out = append(out, rec...)
	return append(out, contents[pos:]...)
}

package dirnode

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// FuzzParse feeds arbitrary contents to Parse, with and without a
// writekey. Parse must never panic, and whatever it accepts must pack and
// parse back to the same entries (modulo the prefixes Pack drops).
func FuzzParse(f *testing.F) {
	grid := testutil.ReadTestdata(f, "dirnode", "dir-sdmf.plaintext")
	f.Add(testutil.ReadTestdata(f, "dirnode", "dir-mdmf.plaintext"), true)
	f.Add(grid, false)
	f.Add(grid, true)
	f.Add([]byte(entry("a", capLIT, "", "{}")+entry("cafe\u0301", capSSKR, string(sealedSSK), `{"x": [1]}`)), true)
	f.Add([]byte(entry("a", capLIT, "", "{}")+entry("a", "ro.x", "", "{}")), false)
	f.Add([]byte(ns(ns("a")+ns("b")+ns("")+ns("{}")+"tail")), false)
	f.Add([]byte("0:,"), false)
	f.Add([]byte(""), true)
	f.Fuzz(func(t *testing.T, contents []byte, withKey bool) {
		var wk []byte
		if withKey {
			wk = testWritekey
		}
		entries, err := Parse(contents, wk)
		if err != nil {
			return
		}
		var want []Entry
		for _, e := range entries {
			if e.Name == "" || strings.Contains(e.Name, "/") {
				return // Parse accepts names that Pack refuses
			}
			e.ROCap = strings.TrimRight(roSlot(e.ROCap, wk == nil), " ")
			want = append(want, e)
		}
		packed, err := Pack(entries, wk)
		if err != nil {
			t.Fatalf("Pack of parsed entries: %v", err)
		}
		again, err := Parse(packed, wk)
		if err != nil {
			t.Fatalf("Parse of packed entries: %v", err)
		}
		slices.SortFunc(want, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
		if !reflect.DeepEqual(again, want) {
			t.Fatalf("round trip changed entries:\n got %+v\nwant %+v", again, want)
		}
		if withKey {
			if repacked, _ := Pack(again, wk); !bytes.Equal(repacked, packed) {
				t.Fatalf("Pack is not deterministic")
			}
		}
	})
}

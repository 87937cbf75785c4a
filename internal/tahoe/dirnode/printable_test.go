package dirnode

import (
	"bytes"
	"strings"
	"testing"
)

// TestUnprintableOpaqueCapIsUnusable: a cap of a kind tahoe-watch does
// not know stays an opaque string, but one holding a terminal escape or
// bytes that are not UTF-8 is unusable (it would reach events, logs,
// terminals and hook environments), and is kept byte for byte when the
// directory is packed again.
func TestUnprintableOpaqueCapIsUnusable(t *testing.T) {
	for _, c := range []string{"URI:FUTURE:\x1b]52;c;aGk=\x07", "URI:FUTURE:\xff", "URI:FUTURE:a\u009bb"} {
		bad := ns(ns("hostile") + ns(c) + ns("") + ns("{}"))
		good := ns(ns("future") + ns("URI:FUTURE:ok") + ns("") + ns("{}"))
		contents := []byte(good + bad)
		d, err := ParseDir(contents, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Entries) != 1 || d.Entries[0].ROCap != "URI:FUTURE:ok" || len(d.Unusable) != 1 {
			t.Fatalf("%q: entries %+v, unusable %+v", c, d.Entries, d.Unusable)
		}
		if r := d.Unusable[0].Reason; !strings.Contains(r, "read cap") || strings.Contains(r, c) {
			t.Errorf("%q: reason %q", c, r)
		}
		out, err := PackDir(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte(bad)) {
			t.Errorf("%q: the unusable entry was not kept byte for byte", c)
		}
	}
}

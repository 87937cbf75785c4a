package mirror

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestWithMarkerFits: a marked name is at most maxNameBytes, valid
// UTF-8, keeps the directory, the extension and the whole marker, and
// is the plain concatenation when that fits.
func TestWithMarkerFits(t *testing.T) {
	marker := ".conflict-" + strings.Repeat("d", 64) + "-20261202T003000.000Z"
	cases := []struct{ rel, ext string }{
		{"short.txt", ".txt"},
		{"dir/" + strings.Repeat("a", 246) + ".txt", ".txt"},
		{strings.Repeat("é", 123) + ".txt", ".txt"},                    // 250 bytes, 2-byte runes
		{"x/y/" + strings.Repeat("日本", 41) + "x.pdf", ".pdf"},          // 3-byte runes
		{strings.Repeat("b", 200) + "." + strings.Repeat("e", 54), ""}, // extension too long to keep
		{strings.Repeat("🎉", 63) + "abc", ""},                          // 4-byte runes, no extension
		{"." + strings.Repeat("h", 254), ""},                           // a dot file is all stem
	}
	for _, c := range cases {
		got := withMarker(c.rel, marker)
		dir, base := path.Split(got)
		wantDir, _ := path.Split(c.rel)
		switch {
		case len(base) > maxNameBytes:
			t.Errorf("%q: %d bytes", got, len(base))
		case !utf8.ValidString(got):
			t.Errorf("%q: not UTF-8", got)
		case dir != wantDir:
			t.Errorf("%q: directory %q, want %q", got, dir, wantDir)
		case !strings.HasSuffix(base, c.ext+marker):
			t.Errorf("%q: lost extension %q or marker", got, c.ext)
		case checkName(base, false) != nil:
			t.Errorf("%q: %v", got, checkName(base, false))
		}
		if _, b := path.Split(c.rel); len(b)+len(marker) <= maxNameBytes && got != c.rel+marker {
			t.Errorf("%q: changed a name that fits: %q", c.rel, got)
		}
	}
}

// FuzzWithMarker: any valid name gives a valid name that fits.
func FuzzWithMarker(f *testing.F) {
	f.Add(strings.Repeat("é", 123)+".txt", ".conflict-a-20261202T003000.000Z")
	f.Fuzz(func(t *testing.T, name, marker string) {
		if checkName(name, false) != nil || checkName("x"+marker, false) != nil || len(marker) > 128 {
			return
		}
		got := withMarker(name, marker)
		if len(got) > maxNameBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, marker) {
			t.Fatalf("withMarker(%q, %q) = %q", name, marker, got)
		}
	})
}

package watcher

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// FuzzParseDir feeds arbitrary directory contents (written by anyone
// holding the directory's write cap) to what the watcher makes of them:
// no panic; every child is a safe path component naming a read-only cap
// (or an opaque, printable cap of a kind not known here); every description of a skipped entry, which goes into
// warnings and logs, is printable (no terminal control).
func FuzzParseDir(f *testing.F) {
	f.Add(testutil.ReadTestdata(f, "dirnode", "dir-sdmf.plaintext"))
	f.Add(testutil.ReadTestdata(f, "dirnode", "dir-mdmf.plaintext"))
	var raw []byte
	for _, name := range []string{"../x", "ok.txt", "..", "\x1b[2Jbad", "\xff"} {
		entry := append(netstring([]byte(name)), netstring([]byte("URI:LIT:"))...)
		entry = append(entry, netstring(nil)...)
		entry = append(entry, netstring([]byte("{}"))...)
		raw = append(raw, netstring(entry)...)
	}
	f.Add(raw)
	opaque := append(netstring([]byte("future")), netstring([]byte("URI:FUTURE:\x1b]52;c;aGk=\x07"))...)
	opaque = append(opaque, netstring([]byte("URI:FUTURE-RW:x"))...)
	opaque = append(opaque, netstring([]byte("{}"))...)
	f.Add(netstring(opaque))
	f.Fuzz(func(t *testing.T, b []byte) {
		kids, unsafe, err := parseDir(b)
		if err != nil {
			return
		}
		for name, c := range kids {
			if !safeName(name) || !utf8.ValidString(name) {
				t.Fatalf("child %q is not a safe name", name)
			}
			// A cap of a kind tahoe-watch does not know is Tahoe's forward
			// compatibility: an opaque string, but one that goes into events,
			// logs and hook environments, so it must be printable.
			if p, err := cap.Parse(c); err == nil && !p.IsReadOnly() {
				t.Fatalf("child %q names a write cap", name)
			}
			if !utf8.ValidString(c) || strings.IndexFunc(c, unicode.IsControl) >= 0 {
				t.Fatalf("child %q names %q: not printable", name, c)
			}
		}
		for _, u := range unsafe {
			if !utf8.ValidString(u) || strings.IndexFunc(u, unicode.IsControl) >= 0 {
				t.Fatalf("description %q of a skipped entry is not printable", u)
			}
		}
	})
}

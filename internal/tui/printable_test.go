package tui

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzPrintable feeds hostile bytes (a file's contents, a directory entry
// name, a server's error) through what the dashboard puts on the
// terminal: nothing may come out that a terminal would act on.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J\x1b]52;c;aGk=\x07", "tab\there\r\n", "\xff\xfe", "\u009b31m", "a\u202eb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := textLines(b)
		lines = append(lines, printable(string(b)), scrub(string(b)))
		for _, l := range lines {
			if !utf8.ValidString(l) {
				t.Fatalf("invalid UTF-8 out: %q", l)
			}
			if i := strings.IndexFunc(l, unicode.IsControl); i >= 0 {
				t.Fatalf("control character out at %d: %q", i, l)
			}
		}
	})
}

package cap

import (
	"strings"
	"unicode/utf8"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// FormatSI returns the 26-character base32 form of a storage index, as
// used in share directory names and verify caps.
func FormatSI(si []byte) string { return base32.Encode(si) }

// ParseSI parses a base32 storage index (26 characters, 16 bytes).
func ParseSI(s string) ([]byte, error) {
	const op = "cap.ParseSI"
	if want := base32.EncodedLen(SILen); len(s) != want {
		return nil, errkind.E(op, errkind.Usage, "storage index %q: %d characters, want %d", clip(s, 40), len(s), want)
	}
	si, err := base32.Decode(s)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "storage index %q is not canonical Tahoe base32", s)
	}
	return si, nil
}

// SplitPath splits a command-line argument such as
// "URI:DIR2-RO:xxx:yyy/sub/dir/name" into the cap text and the path below
// it. Caps never contain '/'. A trailing '/' is allowed; empty elements
// ("a//b") and invalid UTF-8 are not. The cap text itself is not checked:
// give it to Parse.
func SplitPath(arg string) (capString string, path []string, err error) {
	const op = "cap.SplitPath"
	capString, rest, hasPath := strings.Cut(arg, "/")
	if capString == "" {
		return "", nil, errkind.E(op, errkind.Usage, "no cap before the path")
	}
	if !hasPath {
		return capString, nil, nil
	}
	if rest == "" {
		return capString, nil, nil
	}
	rest = strings.TrimSuffix(rest, "/")
	if !utf8.ValidString(rest) {
		return "", nil, errkind.E(op, errkind.Usage, "path is not valid UTF-8")
	}
	path = strings.Split(rest, "/")
	for i, p := range path {
		if p == "" {
			return "", nil, errkind.E(op, errkind.Usage, "path element %d is empty", i+1)
		}
	}
	return capString, path, nil
}

package tui

import (
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// hiddenCap replaces cap text that may hold a write key and cannot be
// reduced.
const hiddenCap = "(write cap hidden)"

// writePrefixes begin the write caps of mutables, which hold a write key.
var writePrefixes = []string{"URI:SSK:", "URI:MDMF:", "URI:DIR2:", "URI:DIR2-MDMF:"}

// ReadOnly returns cap text safe to render: a read or verify cap as is, a
// write cap reduced to its read cap, and text that looks like a write
// cap but does not parse replaced by a placeholder.
func ReadOnly(s string) string {
	if s == "" {
		return ""
	}
	if c, err := cap.Parse(s); err == nil {
		return c.ReadOnly().String()
	}
	if looksWrite(s) {
		return hiddenCap
	}
	return s
}

// looksWrite reports whether s is, or begins, a write cap's text.
func looksWrite(s string) bool {
	u := strings.ToUpper(strings.TrimSpace(s))
	for _, p := range writePrefixes {
		if strings.HasPrefix(u, p) || strings.HasPrefix(p, u) && len(u) > len("URI:") {
			return true
		}
	}
	return strings.Contains(u, ":URI:SSK:") || strings.Contains(u, ":URI:MDMF:") ||
		strings.Contains(u, ":URI:DIR2:") || strings.Contains(u, ":URI:DIR2-MDMF:")
}

package storage

import (
	"strconv"
	"strings"
)

// parseRange parses the only Range form the protocol allows:
// "bytes=first-last", both given, first <= last.
func parseRange(h string) (first, last uint64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	return parseSpan(spec)
}

// parseContentRange parses "bytes first-last/total" (total may be "*").
func parseContentRange(h string) (first, last uint64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !found {
		return 0, 0, false
	}
	span, total, found := strings.Cut(spec, "/")
	if !found {
		return 0, 0, false
	}
	first, last, ok = parseSpan(span)
	if ok && total != "*" {
		n, err := strconv.ParseUint(total, 10, 64)
		ok = err == nil && last < n
	}
	return first, last, ok
}

func parseSpan(s string) (first, last uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found || !digits(a) || !digits(b) {
		return 0, 0, false
	}
	first, err1 := strconv.ParseUint(a, 10, 64)
	last, err2 := strconv.ParseUint(b, 10, 64)
	return first, last, err1 == nil && err2 == nil && first <= last
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

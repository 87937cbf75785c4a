package dirnode

import (
	"errors"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// maxLenDigits bounds the decimal length prefix of a netstring so that the
// length always fits an int; no directory comes near 10^15 bytes.
const maxLenDigits = 15

// errShort and friends describe malformed netstrings; callers wrap them
// with an op and kind.
var (
	errNoColon  = errors.New("netstring: missing ':' after length")
	errBadLen   = errors.New("netstring: length is not a decimal number")
	errShort    = errors.New("netstring: length runs past the end of the data")
	errNoComma  = errors.New("netstring: missing ',' after contents")
	errTooFewNS = errors.New("netstring: ran out of netstrings")
)

// readNetstring reads the netstring "<len>:<bytes>," that starts at data[pos]
// and returns its contents and the position just after its comma. The
// length must be one or more ASCII digits (leading zeros are allowed, as
// Tahoe's parser allows them).
func readNetstring(data []byte, pos int) (s []byte, next int, err error) {
	n := 0
	i := pos
	for ; i < len(data) && data[i] != ':'; i++ {
		c := data[i]
		if c < '0' || c > '9' || i-pos >= maxLenDigits {
			return nil, 0, errBadLen
		}
		n = n*10 + int(c-'0')
	}
	if i == len(data) {
		return nil, 0, errNoColon
	}
	if i == pos {
		return nil, 0, errBadLen
	}
	start := i + 1
	if n > len(data)-start {
		return nil, 0, errShort
	}
	end := start + n
	if end >= len(data) || data[end] != ',' {
		return nil, 0, errNoComma
	}
	return data[start:end], end + 1, nil
}

// readNetstrings reads exactly count netstrings from the start of data.
// Like Tahoe, it ignores whatever follows them.
func readNetstrings(data []byte, count int) ([][]byte, error) {
	out := make([][]byte, 0, count)
	pos := 0
	for len(out) < count {
		if pos >= len(data) {
			return nil, errTooFewNS
		}
		s, next, err := readNetstring(data, pos)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		pos = next
	}
	return out, nil
}

// appendNetstring appends the netstring of s to dst.
func appendNetstring(dst, s []byte) []byte {
	return append(dst, hashes.Netstring(s)...)
}

package gridconfig

import (
	"strconv"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Encoding are the erasure-coding parameters for new uploads.
type Encoding struct {
	Needed int // k: shares needed to recover a file
	Happy  int // servers that must hold shares for an upload to succeed
	Total  int // N: shares produced
}

// DefaultEncoding is Tahoe's default, used when no tahoe.cfg says otherwise.
var DefaultEncoding = Encoding{Needed: 3, Happy: 7, Total: 10}

// EncodingFrom reads [client] shares.needed, shares.happy and shares.total
// from c, defaulting each to Tahoe's default.
func EncodingFrom(c *TahoeCfg) (Encoding, error) {
	const op = "gridconfig.EncodingFrom"
	e := DefaultEncoding
	for _, f := range []struct {
		key string
		dst *int
	}{{"shares.needed", &e.Needed}, {"shares.happy", &e.Happy}, {"shares.total", &e.Total}} {
		s, ok := c.Get("client", f.key)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 256 {
			return e, errkind.E(op, errkind.Usage, "%s: [client] %s = %q is not a number from 1 to 256", c.where("client", f.key), f.key, s)
		}
		*f.dst = n
	}
	if e.Needed > e.Total {
		return e, errkind.E(op, errkind.Usage, "%s: shares.needed (%d) exceeds shares.total (%d)", c.where("client", "shares.needed"), e.Needed, e.Total)
	}
	if e.Happy > e.Total {
		return e, errkind.E(op, errkind.Usage, "%s: shares.happy (%d) exceeds shares.total (%d)", c.where("client", "shares.happy"), e.Happy, e.Total)
	}
	return e, nil
}

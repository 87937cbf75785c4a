package dirnode

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var errNotObject = errors.New("metadata is not a JSON object")

// checkMetadata accepts what Tahoe's json.loads accepts as a dict: a JSON
// object in UTF-8, with JSON whitespace around it.
func checkMetadata(md []byte) error {
	if !utf8.Valid(md) {
		return errors.New("metadata is not valid UTF-8")
	}
	if !json.Valid(md) {
		return errors.New("metadata is not valid JSON")
	}
	if t := bytes.TrimLeft(md, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errNotObject
	}
	return nil
}

// NewMetadata returns the metadata Tahoe gives a newly linked child:
// {"tahoe": {"linkcrtime": now, "linkmotime": now}}, with times in Unix
// seconds, written as Python's json.dumps writes them.
func NewMetadata(now time.Time) json.RawMessage {
	t := pyFloat(unixSeconds(now))
	return json.RawMessage(`{"tahoe": {"linkcrtime": ` + t + `, "linkmotime": ` + t + `}}`)
}

// LinkTimes returns the tahoe:linkcrtime (when the child was first linked
// here) and tahoe:linkmotime (when the link was last changed) of an
// entry's metadata. ok is false unless both are present numbers.
func LinkTimes(md json.RawMessage) (crtime, motime time.Time, ok bool) {
	var m struct {
		Tahoe struct {
			Linkcrtime *float64 `json:"linkcrtime"`
			Linkmotime *float64 `json:"linkmotime"`
		} `json:"tahoe"`
	}
	if json.Unmarshal(md, &m) != nil || m.Tahoe.Linkcrtime == nil || m.Tahoe.Linkmotime == nil {
		return time.Time{}, time.Time{}, false
	}
	return fromUnixSeconds(*m.Tahoe.Linkcrtime), fromUnixSeconds(*m.Tahoe.Linkmotime), true
}

func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func fromUnixSeconds(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// pyFloat formats f as Python's repr does: the shortest digits that read
// back as f, with ".0" on whole numbers and an exponent outside
// [1e-4, 1e16).
func pyFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

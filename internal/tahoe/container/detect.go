package container

import (
	"encoding/binary"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Kind says which kind of share a file holds.
type Kind int

// The kinds of share file.
const (
	Unknown       Kind = iota // not a share file Tahoe would recognise
	MutableKind               // a mutable container
	ImmutableKind             // an immutable share file
)

func (k Kind) String() string {
	switch k {
	case MutableKind:
		return "mutable"
	case ImmutableKind:
		return "immutable"
	}
	return "unknown"
}

// Detect tells the kind of share file from its first bytes (at least 32
// for a mutable container, 4 for an immutable share), as Tahoe's server
// does: mutable magic first, then the immutable version number.
func Detect(header []byte) Kind {
	if MutableVersion(header) != 0 {
		return MutableKind
	}
	if len(header) >= 4 {
		if v := binary.BigEndian.Uint32(header); v == 1 || v == 2 {
			return ImmutableKind
		}
	}
	return Unknown
}

// Share is a parsed share file of either kind; exactly one field is set.
type Share struct {
	Mutable   *Mutable
	Immutable *Immutable
}

// Parse parses and validates a whole share file of either kind.
func Parse(b []byte) (Share, error) {
	switch Detect(b) {
	case MutableKind:
		m, err := ParseMutable(b)
		return Share{Mutable: m}, err
	case ImmutableKind:
		im, err := ParseImmutable(b)
		return Share{Immutable: im}, err
	}
	return Share{}, errkind.E("container.Parse", errkind.Corrupt, "not a Tahoe share file")
}

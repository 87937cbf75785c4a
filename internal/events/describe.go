package events

import (
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Describe fills the fields derived from e's cap: Schema, Kind, Mutable
// and EntrySize. Every producer of events calls it before handing an
// event on (the printers call it for events that lack it); it is
// idempotent.
func (e *Event) Describe() {
	e.Schema = SchemaVersion
	e.EntrySize = -1
	if e.Type == Changed {
		e.EntrySize = e.Size
	}
	e.Kind, e.Mutable = kindOf(e.Cap)
	c, err := cap.Parse(e.Cap)
	if err != nil {
		return
	}
	switch c := c.(type) {
	case *cap.CHK:
		if !c.Dir {
			e.EntrySize = int64(c.Size)
		}
	case *cap.LIT:
		if !c.Dir {
			e.EntrySize = int64(len(c.Data))
		}
	}
}

// kindOf classifies a cap by its prefix: "URI:DIR2..." names a directory,
// SSK, MDMF and the DIR2 kinds other than DIR2-CHK and DIR2-LIT are
// mutable.
func kindOf(c string) (kind string, mutable bool) {
	name, _, ok := strings.Cut(strings.TrimPrefix(c, "URI:"), ":")
	if !ok || !strings.HasPrefix(c, "URI:") {
		return "", false
	}
	kind = KindFile
	if strings.HasPrefix(name, "DIR2") {
		kind = KindDirectory
	}
	immutable := strings.HasPrefix(name, "CHK") || strings.HasPrefix(name, "LIT") ||
		strings.HasPrefix(name, "DIR2-CHK") || strings.HasPrefix(name, "DIR2-LIT")
	return kind, !immutable
}

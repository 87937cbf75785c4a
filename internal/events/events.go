// Package events defines the change events tahoe-watch reports and the
// printers that write them: a human text line, NDJSON with a stable schema
// (docs/events.md), or a user's Go template.
//
// An Event never holds a write cap: Cap is always a read-only cap.
package events

import (
	"time"
)

// Type is what happened.
type Type string

// The event types. Every type but Warning is a change.
const (
	Changed  Type = "changed"  // a watched mutable has a new verified version
	Added    Type = "added"    // an entry appeared in a watched directory
	Removed  Type = "removed"  // an entry disappeared from a watched directory
	Modified Type = "modified" // an entry of a watched directory now names another object
	Warning  Type = "warning"  // something worth knowing that is not a change
	// Ready is given once, before any change, when every cap has been
	// verified and every server subscribed to (or polled): Caps and
	// Modes say how.
	Ready Type = "ready"
)

// The kinds of warning (Event.Warning).
const (
	// WarnUncoordinated: two recoverable versions share the newest
	// seqnum, as two writers publishing at once leave them.
	WarnUncoordinated = "uncoordinated"
	// WarnUnrecoverableNewer: a newer version has fewer than k shares
	// across two refreshes, so it cannot be read.
	WarnUnrecoverableNewer = "unrecoverable-newer"
	// WarnFalseNotices: a server (Server) kept sending notices that did
	// not verify; it is polled until the next refresh.
	WarnFalseNotices = "false-notices"
	// WarnBadShare: a share on Server failed verification (bad
	// signature or hash chain, another file's, garbage, or rolled back
	// below a version seen); Message says which and why.
	WarnBadShare = "bad-share"
)

// IsChange reports whether t reports a change (anything but a warning).
func (t Type) IsChange() bool { return t != Warning && t != Ready && t != "" }

// Via is how a change was first noticed.
type Via string

// The ways a change is noticed.
const (
	ViaPush    Via = "push"    // a server's watch notice
	ViaPoll    Via = "poll"    // a header poll of a server that cannot push
	ViaRefresh Via = "refresh" // the periodic full re-read
)

// Event is one verified change (or a warning). Field names and JSON keys
// are a contract: see docs/events.md.
type Event struct {
	Type Type      `json:"type"`
	Time time.Time `json:"time"`
	// Cap is the read-only cap of the object the event is about: the
	// changed mutable, or the directory entry's child (empty for an
	// entry whose child has no read cap).
	Cap string `json:"cap"`
	// Path is the object's path below the watched cap it was found
	// through, "" for a watched cap itself; entries of a watched
	// directory are "name", "sub/name", and so on.
	Path string `json:"path"`
	// Root is the read-only cap given on the command line that Path is
	// relative to.
	Root           string `json:"root"`
	Seqnum         uint64 `json:"seqnum"`          // the new sequence number (0 if not mutable)
	PreviousSeqnum uint64 `json:"previous_seqnum"` // the last one reported before
	RootHash       string `json:"roothash"`        // base32 share-hash-tree root of the new version
	Size           int64  `json:"size"`            // plaintext bytes of the new version, -1 if unknown
	Via            Via    `json:"via"`             // push, poll or refresh
	Server         string `json:"server,omitempty"`
	// Latency is the time from the first hint (notice or poll result) to
	// the verified event, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	Message   string  `json:"message,omitempty"` // warnings only
	// Warning is a warning's kind, for programs: WarnUncoordinated or
	// WarnUnrecoverableNewer (more may come; treat others as generic).
	Warning string `json:"warning,omitempty"`
	// Caps is, in a ready event, how many mutables are watched.
	Caps int `json:"caps,omitempty"`
	// Modes counts, in a ready event, the servers by how they are
	// watched: "push", "poll" (no watch endpoint, or some subscriptions
	// refused and polled) or "down".
	Modes map[string]int `json:"modes,omitempty"`
	// Contents is the new plaintext when the consumer asked for it (for
	// a hook's stdin). It is never printed.
	Contents []byte `json:"-"`

	// Schema is the version of this schema (SchemaVersion); 0 in events
	// of tahoe-watch before it had the fields below.
	Schema int `json:"schema"`
	// Kind is what Cap names: KindFile or KindDirectory ("" if Cap is
	// empty). For entry events this is the child's kind, not the
	// watched directory's.
	Kind string `json:"kind"`
	// Mutable reports whether Cap names a mutable object (SDMF or MDMF).
	Mutable bool `json:"mutable"`
	// EntrySize is the size in bytes of the object Cap names, where
	// known: the new version's for "changed", the size in the cap for
	// immutable files; -1 otherwise. (Size of an entry event is the
	// directory's.)
	EntrySize int64 `json:"entry_size"`
	// PreviousCap is, for "modified", the read cap the entry named
	// before.
	PreviousCap string `json:"previous_cap,omitempty"`
}

// SchemaVersion is the version of the event schema in docs/events.md: 2
// added schema, kind, mutable, entry_size and previous_cap.
const SchemaVersion = 2

// The values of Event.Kind.
const (
	KindFile      = "file"
	KindDirectory = "directory"
)

// IsEntry reports whether t is about an entry of a watched directory.
func (t Type) IsEntry() bool { return t == Added || t == Removed || t == Modified }

// ShortCap abbreviates a cap string for text output: its kind and the
// first characters of its first field, never a whole key.
func ShortCap(c string) string {
	const keep = 8
	i := lastColonBeforeKey(c)
	if i < 0 || len(c) <= i+1+keep {
		return c
	}
	return c[:i+1+keep] + "…"
}

// lastColonBeforeKey returns the index of the colon that ends the cap's
// kind (the one before its first base32 field).
func lastColonBeforeKey(c string) int {
	colons := 0
	for i := 0; i < len(c); i++ {
		if c[i] != ':' {
			continue
		}
		colons++
		// URI:SSK-RO:..., URI:DIR2-MDMF-RO:... : the kind is one token.
		if colons == 2 {
			return i
		}
	}
	return -1
}

package dirnode

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// emptyMetadata is what Pack stores for an entry with nil Metadata.
var emptyMetadata = []byte("{}")

// Pack encodes entries as directory contents, sorted by NFC name as Tahoe
// sorts them.
//
// With the directory's 16-byte writekey (a mutable directory), every
// entry's RWCap is sealed under it, an empty RWCap included, exactly as
// Tahoe does; the result is deterministic. With a nil writekey the
// contents are for an immutable directory: RWCap must be empty, the
// sealed-cap fields are left empty, and an "imm." prefix on a ROCap is
// dropped. An "ro." prefix is always dropped, since the ro-cap field
// implies it.
//
// Pack refuses (errkind.Usage) names that are not UTF-8, empty, "." or
// "..", or hold a "/" (Tahoe's web API refuses them; they could not be
// named in a path) or a control character, that is every name Parse would
// find unusable, or that repeat another name after normalization; and
// (errkind.Invalid) metadata that is not a JSON object.
func Pack(entries []Entry, writekey []byte) ([]byte, error) {
	return pack("dirnode.Pack", &Dir{Entries: entries}, writekey)
}

// normalized returns a copy of entries with NFC names, sorted by name,
// after checking the names.
func normalized(op string, entries []Entry) ([]Entry, error) {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		if !utf8.ValidString(e.Name) {
			return nil, errkind.E(op, errkind.Usage, "bad child name %q: not valid UTF-8", e.Name)
		}
		e.Name = norm.NFC.String(e.Name)
		if err := checkName(e.Name); err != nil {
			return nil, errkind.E(op, errkind.Usage, "bad child name %q: %w", e.Name, err)
		}
		out[i] = e
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			return nil, errkind.E(op, errkind.Usage, "two children named %q", out[i].Name)
		}
	}
	return out, nil
}

// packEntry encodes one entry's four netstrings.
func packEntry(op string, e Entry, writekey []byte) ([]byte, error) {
	md := []byte(e.Metadata)
	if md == nil {
		md = emptyMetadata
	}
	if err := checkMetadata(md); err != nil {
		return nil, errkind.E(op, errkind.Invalid, "child %q: %w", e.Name, err)
	}
	var sealed []byte
	if writekey != nil {
		sealed = encryptRWCap(writekey, e.RWCap)
	} else if e.RWCap != "" {
		return nil, errkind.E(op, errkind.Invalid, "child %q: a write cap needs the directory's writekey", e.Name)
	}
	ro := roSlot(e.ROCap, writekey == nil)
	var raw []byte
	raw = appendNetstring(raw, []byte(e.Name))
	raw = appendNetstring(raw, []byte(ro))
	raw = appendNetstring(raw, sealed)
	raw = appendNetstring(raw, md)
	return raw, nil
}

// roSlot is the form of a read-only cap stored in an entry: the "ro."
// prefix is implied by the slot, and so is "imm." in an immutable
// directory (but not in a mutable one, where it still says something).
func roSlot(rocap string, immutable bool) string {
	if strings.HasPrefix(rocap, ImmutablePrefix) {
		if immutable {
			return rocap[len(ImmutablePrefix):]
		}
		return rocap
	}
	return strings.TrimPrefix(rocap, ReadOnlyPrefix)
}

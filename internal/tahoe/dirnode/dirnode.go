// Package dirnode reads and writes the contents of a Tahoe-LAFS directory:
// the plaintext held in a directory's mutable file (SDMF or MDMF) or, for
// an immutable directory, in its CHK or LIT file.
//
// The contents are a concatenation of netstrings, one per child, sorted by
// name. Each child's netstring holds four netstrings: the child's name
// (UTF-8, NFC), its read-only cap, its read-write cap sealed under the
// directory's writekey (salt, AES-CTR ciphertext, MAC; empty when the
// packer had no writekey), and its metadata as a JSON object. An empty
// directory is empty. See docs/specifications/dirnodes.rst in Tahoe-LAFS.
//
// Caps are kept as opaque strings, so caps of kinds this program does not
// know (including Tahoe's "ro." and "imm." prefixed unknown caps) pass
// through untouched, and metadata is kept as the exact JSON bytes stored.
//
// Every entry was written by someone who held the directory's write cap,
// maybe a hostile one. An entry that cannot be used (see Unusable) never
// makes the directory unreadable: Parse leaves it out, ParseDir returns
// it as an opaque record, and PackDir writes it back byte for byte, so
// that tahoe-watch's edits never destroy another writer's entries. Only
// broken framing (contents that are not a sequence of netstrings) is an
// error.
package dirnode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Prefixes Tahoe puts on caps of unknown kinds to say what they allegedly
// grant (see allmydata/uri.py). They are part of the cap string.
const (
	ReadOnlyPrefix  = "ro."
	ImmutablePrefix = "imm."
)

// Entry is one child of a directory.
type Entry struct {
	// Name is the child's name, normalized to Unicode NFC.
	Name string
	// ROCap is the child's read-only cap, or "" if it has none.
	ROCap string
	// RWCap is the child's read-write cap, or "" if it has none or if
	// the directory was read without its writekey.
	RWCap string
	// Metadata is the child's metadata, a JSON object, byte for byte as
	// stored so that unknown fields survive a round trip. Nil means {}.
	Metadata json.RawMessage
}

// Parse decodes the contents of a mutable directory. With the directory's
// 16-byte writekey it also decrypts each child's read-write cap and checks
// its MAC; with a nil writekey (read-only access) the sealed caps are
// skipped and every RWCap is "". Tahoe's own readers stopped checking the
// MAC in 1.3.0 but every writer still sets it, so a mismatch means a wrong
// writekey or a damaged entry. An empty sealed field is read as no write
// cap.
//
// Like Tahoe, Parse normalizes names to NFC, strips trailing spaces from
// caps, ignores bytes after an entry's fourth netstring, and lets a later
// entry replace an earlier one of the same name. An entry that cannot be
// used (see Unusable) is left out, so that one hostile entry never hides
// the others; ParseDir returns such entries too, and whoever rewrites the
// directory must use it and PackDir so as to keep them. Contents whose
// framing is broken (not a sequence of netstrings) are an errkind.Corrupt
// error.
func Parse(contents, writekey []byte) ([]Entry, error) {
	d, err := ParseDir(contents, writekey)
	if err != nil {
		return nil, err
	}
	return d.Entries, nil
}

// ParseImmutable decodes the contents of an immutable directory
// (DIR2-CHK or DIR2-LIT), leaving out unusable entries as Parse does.
// Such a directory holds no write caps, so an entry with a non-empty
// sealed-cap field is unusable, as Tahoe refuses it.
func ParseImmutable(contents []byte) ([]Entry, error) {
	d, err := ParseDirImmutable(contents)
	if err != nil {
		return nil, err
	}
	return d.Entries, nil
}

// ParseDir is Parse, returning the unusable entries as well.
func ParseDir(contents, writekey []byte) (*Dir, error) {
	const op = "dirnode.Parse"
	if writekey != nil && len(writekey) != hashes.KeyLen {
		return nil, errkind.E(op, errkind.Invalid, "writekey is %d bytes, want %d", len(writekey), hashes.KeyLen)
	}
	return parse(op, contents, writekey, false)
}

// ParseDirImmutable is ParseImmutable, returning the unusable entries as
// well.
func ParseDirImmutable(contents []byte) (*Dir, error) {
	return parse("dirnode.ParseImmutable", contents, nil, true)
}

func parse(op string, contents, writekey []byte, immutable bool) (*Dir, error) {
	d := &Dir{}
	index := map[string]int{}
	for pos := 0; pos < len(contents); {
		inner, next, err := readNetstring(contents, pos)
		if err != nil {
			return nil, errkind.E(op, errkind.Corrupt, "entry at byte %d: %w", pos, err)
		}
		e, bad := parseEntry(inner, writekey, immutable)
		switch i, dup := index[e.Name]; {
		case bad != nil:
			d.Unusable = append(d.Unusable, unusable(contents[pos:next], inner, pos, bad))
		case dup:
			d.Entries[i] = e
		default:
			index[e.Name] = len(d.Entries)
			d.Entries = append(d.Entries, e)
		}
		pos = next
	}
	return d, nil
}

// parseEntry decodes one entry's fields; bad says why it cannot be used.
func parseEntry(raw, writekey []byte, immutable bool) (e Entry, bad error) {
	f, err := readNetstrings(raw, 4)
	if err != nil {
		return Entry{}, fmt.Errorf("not four fields: %w", err)
	}
	name, ro, sealed, md := f[0], f[1], f[2], f[3]
	if !utf8.Valid(name) {
		return Entry{}, errors.New("name is not valid UTF-8")
	}
	e = Entry{
		Name:  norm.NFC.String(string(name)),
		ROCap: string(bytes.TrimRight(ro, " ")),
	}
	if err := checkName(e.Name); err != nil {
		return Entry{}, err
	}
	if immutable && len(sealed) > 0 {
		return Entry{}, errors.New("immutable directory holds a sealed write cap")
	}
	if writekey != nil {
		rw, err := decryptRWCap(writekey, sealed)
		if err != nil {
			return Entry{}, err
		}
		e.RWCap = strings.TrimRight(rw, " ")
	}
	if err := checkCaps(e, immutable); err != nil {
		return Entry{}, err
	}
	if err := checkMetadata(md); err != nil {
		return Entry{}, err
	}
	e.Metadata = json.RawMessage(slices.Clone(md))
	return e, nil
}

// Find returns the entry called name (compared after NFC normalization).
func Find(entries []Entry, name string) (Entry, bool) {
	name = norm.NFC.String(name)
	for _, e := range entries {
		if norm.NFC.String(e.Name) == name {
			return e, true
		}
	}
	return Entry{}, false
}

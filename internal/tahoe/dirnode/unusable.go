package dirnode

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Dir is a parsed directory: the entries that can be used and, kept
// opaque, those that cannot.
type Dir struct {
	// Entries are the usable children, as Parse returns them.
	Entries []Entry
	// Unusable are the entries that cannot be used, in the order stored.
	Unusable []Unusable
}

// Unusable is a directory entry that cannot be used, although the
// directory's framing around it is sound: anyone with the directory's
// write cap can store such an entry, and it must harm nobody. Readers
// skip it (and should warn); PackDir writes it back byte for byte, so
// that an edit of one entry never destroys another writer's.
//
// An entry is unusable when its four fields do not parse; its name is not
// UTF-8, is empty, "." or "..", or holds a '/' or a control character;
// its metadata is not a JSON object; a cap is not UTF-8 or holds a
// control character; its read cap, of a kind this program
// knows, does not parse or is not read-only (the read-cap field is read
// as if it had the "ro." prefix, or "imm." in an immutable directory);
// its write cap, of a known kind, does not parse; its sealed write cap
// fails its MAC; or, in an immutable directory, it holds a sealed write
// cap. Caps of kinds this program does not know are not judged: they are
// Tahoe's forward compatibility and stay usable, opaque strings.
type Unusable struct {
	// Name is the entry's name as stored, which may not be UTF-8, or ""
	// when not even the name could be read.
	Name string
	// Offset is where the entry starts in the directory's contents.
	Offset int
	// Reason says what is wrong. It never holds a cap.
	Reason string
	// Raw is the entry exactly as stored, netstring framing included.
	Raw []byte
}

// maxShownName bounds how much of a hostile name a warning shows.
const maxShownName = 80

// String describes the entry for a warning, its name quoted with every
// byte that is not printable UTF-8 escaped, so that no name can write
// control sequences to a terminal or log.
func (u Unusable) String() string {
	name := u.Name
	if len(name) > maxShownName {
		name = name[:maxShownName] + "..."
	}
	if u.Name == "" {
		return fmt.Sprintf("entry at byte %d: %s", u.Offset, u.Reason)
	}
	return fmt.Sprintf("entry %s at byte %d: %s", strconv.Quote(name), u.Offset, u.Reason)
}

// Describe returns one warning line per unusable entry, at most limit of
// them (limit >= 1), the last line then counting the rest. A directory can
// hold millions of tiny hostile entries; a reader's warnings stay few.
func Describe(us []Unusable, limit int) []string {
	var out []string
	for i, u := range us {
		if i == limit-1 && len(us) > limit {
			out = append(out, fmt.Sprintf("%d more entries that cannot be used", len(us)-i))
			break
		}
		out = append(out, u.String())
	}
	return out
}

func unusable(record, inner []byte, pos int, why error) Unusable {
	u := Unusable{Offset: pos, Reason: why.Error(), Raw: slices.Clone(record)}
	if name, _, err := readNetstring(inner, 0); err == nil {
		u.Name = string(name)
	}
	return u
}

// sortKey is where PackDir puts an unusable entry: by its name's bytes,
// which for a UTF-8 name is Tahoe's order. It fails unless Raw is one
// netstring, so that no caller can break the directory's framing.
func (u Unusable) sortKey() (string, error) {
	inner, next, err := readNetstring(u.Raw, 0)
	if err != nil || next != len(u.Raw) {
		return "", errors.New("raw entry is not one netstring")
	}
	name, _, err := readNetstring(inner, 0)
	if err != nil {
		return "", nil
	}
	return string(name), nil
}

// checkName refuses names that cannot stand as one element of a path.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("name is %q", name)
	case strings.Contains(name, "/"):
		return errors.New("name holds a '/'")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("name holds a control character")
	}
	return nil
}

// knownKinds are the prefixes of the cap kinds package cap parses.
var knownKinds = func() map[string]bool {
	m := map[string]bool{}
	for k := cap.KindInvalid + 1; k.String() != cap.KindInvalid.String(); k++ {
		m[k.String()] = true
	}
	return m
}()

// hasPrefix reports whether s starts with Tahoe's "ro." or "imm.".
func hasPrefix(s string) bool {
	return strings.HasPrefix(s, ReadOnlyPrefix) || strings.HasPrefix(s, ImmutablePrefix)
}

// knownKind reports whether s claims to be a cap of a kind package cap
// knows, after any prefix.
func knownKind(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, ReadOnlyPrefix), ImmutablePrefix)
	rest, ok := strings.CutPrefix(s, "URI:")
	if !ok {
		return false // "URI" alone, too, is no known kind
	}
	name, _, _ := strings.Cut(rest, ":")
	return knownKinds["URI:"+name]
}

// checkCaps judges an entry's caps: any cap must be printable UTF-8 (an
// opaque cap of an unknown kind still reaches events, logs, terminals
// and hook environments), and those of known kinds must parse.
func checkCaps(e Entry, immutable bool) error {
	for _, f := range [2][2]string{{"read cap", e.ROCap}, {"write cap", e.RWCap}} {
		what, c := f[0], f[1]
		if !utf8.ValidString(c) {
			return fmt.Errorf("%s is not valid UTF-8", what)
		}
		if strings.IndexFunc(c, unicode.IsControl) >= 0 {
			return fmt.Errorf("%s holds a control character", what)
		}
	}
	if e.ROCap != "" && knownKind(e.ROCap) {
		s := e.ROCap
		if !hasPrefix(s) {
			s = ReadOnlyPrefix + s
			if immutable {
				s = ImmutablePrefix + e.ROCap
			}
		}
		if _, err := cap.Parse(s); err != nil {
			return fmt.Errorf("read cap: %s", capReason(err))
		}
	}
	if e.RWCap != "" && knownKind(e.RWCap) {
		if _, err := cap.Parse(e.RWCap); err != nil {
			return fmt.Errorf("write cap: %s", capReason(err))
		}
	}
	return nil
}

// capReason is cap.Parse's message without its op; cap.Parse never puts
// key material in it.
func capReason(err error) string {
	var e *errkind.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err.Error()
	}
	return "does not parse"
}

// PackDir is Pack for a parsed directory: it packs d.Entries and writes
// every entry of d.Unusable back exactly as it was stored, each in its
// place in the name order. A directory that was sorted and canonically
// packed (as Tahoe and Pack write it) therefore packs back to the same
// bytes, whatever unusable entries it holds. PackDir refuses
// (errkind.Invalid) an Unusable whose Raw is not one netstring.
func PackDir(d *Dir, writekey []byte) ([]byte, error) {
	return pack("dirnode.PackDir", d, writekey)
}

// record is one packed entry and where it sorts.
type record struct {
	key string
	raw []byte
}

func pack(op string, d *Dir, writekey []byte) ([]byte, error) {
	if writekey != nil && len(writekey) != hashes.KeyLen {
		return nil, errkind.E(op, errkind.Invalid, "writekey is %d bytes, want %d", len(writekey), hashes.KeyLen)
	}
	sorted, err := normalized(op, d.Entries)
	if err != nil {
		return nil, err
	}
	recs := make([]record, 0, len(sorted)+len(d.Unusable))
	for _, e := range sorted {
		raw, err := packEntry(op, e, writekey)
		if err != nil {
			return nil, err
		}
		recs = append(recs, record{e.Name, appendNetstring(nil, raw)})
	}
	for i, u := range d.Unusable {
		key, err := u.sortKey()
		if err != nil {
			return nil, errkind.E(op, errkind.Invalid, "unusable entry %d: %w", i, err)
		}
		recs = append(recs, record{key, u.Raw})
	}
	slices.SortStableFunc(recs, func(a, b record) int { return cmp.Compare(a.key, b.key) })
	var out []byte
	for _, r := range recs {
		out = append(out, r.raw...)
	}
	return out, nil
}

// Package cap parses, prints and derives Tahoe-LAFS capabilities ("caps"):
// the URI:... strings that name a file or directory and carry the keys to
// read, write or verify it.
//
// Parse accepts every cap kind Tahoe-LAFS 1.20 writes and returns a *Mutable
// (SSK, MDMF and the mutable DIR2 kinds), a *CHK (CHK and DIR2-CHK, read and
// verify) or a *LIT (LIT and DIR2-LIT). String prints the canonical form,
// which for every cap Tahoe writes is byte-identical to the parsed text.
//
// Caps are values: treat a cap's fields as read-only once it is built, and
// build caps only with Parse, NewMutable or the derivation methods, which
// keep derived fields (readkey, storage index) consistent.
package cap

import (
	"strconv"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// Cap is any parsed Tahoe-LAFS capability.
type Cap interface {
	// String returns the canonical cap text.
	String() string
	// Kind returns the cap's kind, that is its URI:... prefix.
	Kind() Kind
	// IsMutable reports whether the cap names a mutable slot (SDMF or
	// MDMF), including verify caps of one. (Tahoe's is_mutable() is false
	// for verify caps; this is about the object, not the authority.)
	IsMutable() bool
	// IsDir reports whether the cap names a directory.
	IsDir() bool
	// IsReadOnly reports whether the cap cannot modify its object: true
	// for read and verify caps and for every immutable cap.
	IsReadOnly() bool
	// ReadOnly returns the read cap of the same object; a read-only cap
	// returns itself. Verify caps return themselves, as in Tahoe.
	ReadOnly() Cap
	// Verifier returns the verify cap of the same object, or nil for
	// literal caps, which have nothing stored on servers.
	Verifier() Cap
	// StorageIndex returns the 16-byte storage index, nil for literal caps.
	StorageIndex() []byte
}

// Prefixes Tahoe allows in front of a cap inside directories: "ro." claims
// the cap is read-only, "imm." that it is deeply immutable.
const (
	ReadOnlyPrefix  = "ro."
	ImmutablePrefix = "imm."
)

const opParse = "cap.Parse"

// Parse parses the text of any cap Tahoe-LAFS 1.20 writes.
//
// Like Tahoe it accepts, and String then drops: a leading "ro." (rejecting
// write caps) or "imm." (rejecting caps that can read or write a mutable
// object); leading zeros in CHK numbers; and extension fields after the
// fingerprint of the MDMF kinds (":" and anything after it). Unlike Tahoe it
// rejects a trailing newline and trailing text after URI:CHK-Verifier and
// URI:DIR2-CHK-Verifier caps, and checks 1 <= k <= N <= 256.
//
// Errors are errkind.Usage with op "cap.Parse"; they name the kind and
// field at fault and never repeat key material.
func Parse(s string) (Cap, error) {
	body, constraint := stripAllegedPrefix(s)
	kind, rest, err := splitKind(body)
	if err != nil {
		return nil, err
	}
	c, err := parseBody(kind, rest)
	if err != nil {
		return nil, err
	}
	if err := constraint(c); err != nil {
		return nil, err
	}
	return c, nil
}

// stripAllegedPrefix removes "ro." or "imm." and returns the check the
// parsed cap must then pass.
func stripAllegedPrefix(s string) (string, func(Cap) error) {
	if rest, ok := strings.CutPrefix(s, ImmutablePrefix); ok {
		return rest, func(c Cap) error {
			if c.IsMutable() && c.Kind().Access() != Verify {
				return usage("%s cap can read or write a mutable object; not allowed after %q", c.Kind(), ImmutablePrefix)
			}
			return nil
		}
	}
	if rest, ok := strings.CutPrefix(s, ReadOnlyPrefix); ok {
		return rest, func(c Cap) error {
			if !c.IsReadOnly() {
				return usage("%s is a write cap; not allowed after %q", c.Kind(), ReadOnlyPrefix)
			}
			return nil
		}
	}
	return s, func(Cap) error { return nil }
}

// splitKind splits "URI:<name>:<rest>" into the kind and rest.
func splitKind(s string) (Kind, string, error) {
	tail, ok := strings.CutPrefix(s, "URI:")
	if !ok {
		if s == "" {
			return 0, "", usage("empty cap")
		}
		return 0, "", usage("not a Tahoe-LAFS cap: it must start with \"URI:\"")
	}
	name, rest, found := strings.Cut(tail, ":")
	kind, known := kindByName["URI:"+name]
	if !known {
		return 0, "", usage("unknown cap kind %q", clip("URI:"+name, 40))
	}
	if !found {
		return 0, "", usage("%s: no fields after the kind", kind)
	}
	return kind, rest, nil
}

// parseBody parses what follows "URI:<name>:".
func parseBody(kind Kind, rest string) (Cap, error) {
	switch kinds[kind].class {
	case classMutable:
		return parseMutable(kind, rest)
	case classCHK:
		return parseCHK(kind, rest)
	default:
		return parseLIT(kind, rest)
	}
}

// MustParse is Parse for caps known to be valid, as in tests; it panics on
// error.
func MustParse(s string) Cap {
	c, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

// WithDir returns c as a directory cap (dir true) or as the cap of the
// file that holds the directory (dir false): URI:SSK <-> URI:DIR2,
// URI:CHK <-> URI:DIR2-CHK, and so on. c itself is not changed.
func WithDir(c Cap, dir bool) Cap {
	switch c := c.(type) {
	case *Mutable:
		m := *c
		m.Dir = dir
		return &m
	case *CHK:
		k := *c
		k.Dir = dir
		return &k
	case *LIT:
		l := *c
		l.Dir = dir
		return &l
	}
	return c
}

// Abbrev names c for logs without revealing keys: its kind and the first
// characters of its storage index (or the size of a literal cap).
func Abbrev(c Cap) string {
	if l, ok := c.(*LIT); ok {
		return l.Kind().String() + " (" + strconv.Itoa(len(l.Data)) + " bytes)"
	}
	si := FormatSI(c.StorageIndex())
	if len(si) > 5 {
		si = si[:5]
	}
	return c.Kind().String() + " (SI " + si + ")"
}

// usage builds a cap.Parse error of kind Usage.
func usage(format string, args ...any) error {
	return errkind.E(opParse, errkind.Usage, format, args...)
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// decodeField decodes one base32 field of n bytes, describing any fault by
// kind and field name only (the field may be a secret key).
func decodeField(kind Kind, field, s string, n int) ([]byte, error) {
	if want := base32.EncodedLen(n); len(s) != want {
		return nil, usage("%s %s: %d characters, want %d", kind, field, len(s), want)
	}
	return decodeAny(kind, field, s)
}

// decodeAny decodes a base32 field of any length.
func decodeAny(kind Kind, field, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if !isBase32Char(s[i]) {
			return nil, usage("%s %s: character %q at offset %d is not Tahoe base32 (a-z, 2-7)", kind, field, s[i], i)
		}
	}
	b, err := base32.Decode(s)
	if err != nil {
		return nil, usage("%s %s: not canonical base32 (bad length or non-zero trailing bits)", kind, field)
	}
	return b, nil
}

func isBase32Char(c byte) bool { return c >= 'a' && c <= 'z' || c >= '2' && c <= '7' }

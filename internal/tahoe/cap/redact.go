package cap

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
)

// Caps are printed in two ways. String (and only String) gives the whole
// canonical text, for the wire, directory entries and files the user asked
// for. Every default formatting — fmt's %v, %s, %q, %+v, %#v, slog
// attributes in text and JSON, and so errors built from them — goes
// through Format or LogValue, which show a write cap as its read cap: it
// names the same object and lets the user read it, but grants no write.
// Scrub is the last line of defence for text that may hold a cap typed by
// the user (error lines, log lines).

// Redacted returns c's text with any write authority removed: the read
// cap for a write cap, the cap's own text otherwise. It is what errors,
// logs and events show.
func Redacted(c Cap) string {
	if c == nil {
		return "<nil cap>"
	}
	if c.IsReadOnly() {
		return c.String()
	}
	return c.ReadOnly().String()
}

// Format prints m for people, as Redacted does, whatever the verb (%q
// quotes it). A Mutable value and a *Mutable print alike.
func (m Mutable) Format(f fmt.State, verb rune) { formatRedacted(f, verb, &m) }

// LogValue makes slog show m as Redacted does, in text and JSON alike.
func (m Mutable) LogValue() slog.Value { return slog.StringValue(Redacted(&m)) }

// MarshalJSON makes a Mutable inside any JSON-encoded value (a struct
// logged by slog's JSON handler, say) its Redacted text rather than its
// key fields. Nothing writes caps to JSON for the wire by this route:
// code that means the full cap puts String() in a string field.
func (m Mutable) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted(&m)) }

// formatRedacted writes Redacted(c), quoted for %q.
func formatRedacted(f fmt.State, verb rune, c Cap) {
	s := Redacted(c)
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
}

// writeCapText matches the text of a write cap: a write kind, its first
// field and, when present, the fingerprint. The kinds are those whose
// prefix is followed directly by the writekey.
var writeCapText = regexp.MustCompile(`URI:(?:DIR2-MDMF|DIR2|SSK|MDMF):[A-Za-z0-9]+(?::[a-z2-7]+)?`)

// Scrub returns s with every write cap in it replaced by its read cap, or,
// where the text does not parse, by the kind followed by "<redacted>". Use
// it on text that may hold what the user typed before it reaches an error
// line or a log.
func Scrub(s string) string {
	return writeCapText.ReplaceAllStringFunc(s, func(w string) string {
		if c, err := Parse(w); err == nil {
			return Redacted(c)
		}
		kind := w[:len("URI:")]
		for i := len(kind); i < len(w) && w[i] != ':'; i++ {
			kind = w[:i+1]
		}
		return kind + ":<redacted>"
	})
}

// ScrubWriter returns a writer that passes each Write through Scrub. slog
// handlers write one record per Write, so a log built on it never shows a
// write cap, whatever a caller put in a message or attribute.
func ScrubWriter(w io.Writer) io.Writer { return scrubWriter{w} }

type scrubWriter struct{ w io.Writer }

func (s scrubWriter) Write(p []byte) (int, error) {
	if !writeCapText.Match(p) {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, Scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

package events

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Printer writes events, one per line.
type Printer interface {
	Print(w io.Writer, e Event) error
}

// Text prints a line for humans: time, type, path or short cap, seqnum,
// how it was noticed and the latency.
type Text struct{}

// Print writes e as one text line.
func (Text) Print(w io.Writer, e Event) error {
	if e.Schema == 0 {
		e.Describe()
	}
	what := e.Path
	if what == "" {
		what = ShortCap(e.Cap)
	}
	ts := e.Time.Format("15:04:05.000")
	if e.Type == Ready {
		_, err := fmt.Fprintf(w, "%s %-8s %s\n", ts, e.Type, e.Message)
		return err
	}
	if e.Type == Warning {
		_, err := fmt.Fprintf(w, "%s %-8s %s: %s\n", ts, e.Type, what, e.Message)
		return err
	}
	if e.Type.IsEntry() {
		_, err := fmt.Fprintf(w, "%s %-8s %s%s via %s in %s\n", ts, e.Type, what, entryKind(e), e.Via, latency(e.LatencyMS))
		return err
	}
	_, err := fmt.Fprintf(w, "%s %-8s %s seq %d (was %d) via %s in %s\n",
		ts, e.Type, what, e.Seqnum, e.PreviousSeqnum, e.Via, latency(e.LatencyMS))
	return err
}

// entryKind describes an entry event's child for the text line, as
// " (mutable file)" or " (file, 5 bytes)": entries carry no seqnum of
// their own, so none is printed.
func entryKind(e Event) string {
	if e.Kind == "" {
		return ""
	}
	k := e.Kind
	if e.Mutable {
		k = "mutable " + k
	}
	if e.EntrySize >= 0 && e.Kind == KindFile {
		k += fmt.Sprintf(", %d bytes", e.EntrySize)
	}
	return " (" + k + ")"
}

func latency(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).Round(100 * time.Microsecond).String()
}

// JSON prints NDJSON, the schema of docs/events.md.
type JSON struct{}

// Print writes e as one JSON object on one line.
func (JSON) Print(w io.Writer, e Event) error {
	if e.Schema == 0 {
		e.Describe()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Template prints each event through a Go text/template whose dot is the
// Event; a newline is added unless the output already ends with one.
type Template struct{ t *template.Template }

// NewTemplate parses a --format template; a bad one is a usage error. It
// is executed once on Sample, so that a field that does not exist (a
// typo) is refused at start, not at the first change. Besides the
// text/template builtins it has "json", which writes its argument as
// JSON: {{json .}} is the --json line, {{json .Path}} a quoted path.
func NewTemplate(text string) (*Template, error) {
	const op = "events.NewTemplate"
	t, err := template.New("format").Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "--format: %s", templateError(err))
	}
	if err := t.Execute(io.Discard, Sample()); err != nil {
		return nil, errkind.E(op, errkind.Usage, "--format: %s (fields: docs/events.md)", templateError(err))
	}
	return &Template{t}, nil
}

// templateError says what is wrong with a template in the user's words:
// without text/template's "template: format:" and Go type names.
func templateError(err error) string {
	s := strings.TrimPrefix(err.Error(), "template: format:")
	s = strings.Replace(s, `executing "format" at `, "", 1)
	return goTypeName.ReplaceAllString(s, "no field $1")
}

var goTypeName = regexp.MustCompile(`can't evaluate field (\w+) in type [\w.*\[\]]+`)

// templateFuncs are the functions --format templates may call.
var templateFuncs = template.FuncMap{"json": toJSON}

// toJSON returns v as compact JSON.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Sample is an event with every field set, as a template check runs on.
func Sample() Event {
	return Event{Type: Changed, Time: time.Unix(0, 0).UTC(), Cap: "URI:SSK-RO:a:b", Path: "dir/file",
		Root: "URI:DIR2-RO:c:d", Seqnum: 2, PreviousSeqnum: 1, RootHash: "r", Size: 1, Via: ViaPush,
		Server: "s", LatencyMS: 1, Message: "m", Warning: WarnUncoordinated, Schema: SchemaVersion,
		Kind: KindFile, Mutable: true, EntrySize: 1, PreviousCap: "URI:SSK-RO:e:f"}
}

// Print executes the template on e.
func (p *Template) Print(w io.Writer, e Event) error {
	if e.Schema == 0 {
		e.Describe()
	}
	var b strings.Builder
	if err := p.t.Execute(&b, e); err != nil {
		return errkind.E("events.Template", errkind.Usage, "--format: %v", err)
	}
	s := b.String()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, err := io.WriteString(w, s)
	return err
}

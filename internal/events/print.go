package events

import (
	"encoding/json"
	"fmt"
	"io"
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
	_, err := fmt.Fprintf(w, "%s %-8s %s seq %d (was %d) via %s in %s\n",
		ts, e.Type, what, e.Seqnum, e.PreviousSeqnum, e.Via, latency(e.LatencyMS))
	return err
}

func latency(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).Round(100 * time.Microsecond).String()
}

// JSON prints NDJSON, the schema of docs/events.md.
type JSON struct{}

// Print writes e as one JSON object on one line.
func (JSON) Print(w io.Writer, e Event) error {
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

// NewTemplate parses a --format template; a bad one is a usage error.
func NewTemplate(text string) (*Template, error) {
	t, err := template.New("format").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, errkind.E("events.NewTemplate", errkind.Usage, "--format: %v", err)
	}
	return &Template{t}, nil
}

// Print executes the template on e.
func (p *Template) Print(w io.Writer, e Event) error {
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

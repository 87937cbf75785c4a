package events_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

var sample = events.Event{Type: events.Changed, Time: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
	Cap: "URI:SSK-RO:abcdefghijklmnopqrstuvwxyz:0123456789", Path: "docs/a.txt", Root: "URI:DIR2-RO:x:y",
	Seqnum: 5, PreviousSeqnum: 4, RootHash: "rh", Size: 12, Via: events.ViaPush, Server: "v0-s",
	LatencyMS: 3.5, Contents: []byte("secret contents")}

func TestJSONSchema(t *testing.T) {
	var b bytes.Buffer
	if err := (events.JSON{}).Print(&b, sample); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "}\n") || strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("not one line: %q", b.String())
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "changed", "time": "2026-11-25T09:00:00Z", "cap": sample.Cap, "path": "docs/a.txt",
		"root": "URI:DIR2-RO:x:y", "seqnum": 5.0, "previous_seqnum": 4.0, "roothash": "rh", "size": 12.0,
		"via": "push", "server": "v0-s", "latency_ms": 3.5,
		"schema": 2.0, "kind": "file", "mutable": true, "entry_size": 12.0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("keys %v, want exactly %v", m, want)
	}
}

func TestTextLine(t *testing.T) {
	var b bytes.Buffer
	if err := (events.Text{}).Print(&b, sample); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "09:00:00.000 changed  docs/a.txt seq 5 (was 4) via push in 3.5ms\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e := sample
	e.Path = ""
	b.Reset()
	(events.Text{}).Print(&b, e)
	if strings.Contains(b.String(), "0123456789") || !strings.Contains(b.String(), "URI:SSK-RO:abcdefgh") {
		t.Errorf("a cap without a path should be abbreviated: %q", b.String())
	}
}

func TestTemplate(t *testing.T) {
	p, err := events.NewTemplate("{{.Path}} {{.Seqnum}} {{.Via}}")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.Print(&b, sample); err != nil {
		t.Fatal(err)
	}
	if b.String() != "docs/a.txt 5 push\n" {
		t.Errorf("got %q", b.String())
	}
	if _, err := events.NewTemplate("{{.Path"); err == nil {
		t.Error("bad template accepted")
	}
	if _, err := events.NewTemplate("{{.NoSuchField}}"); !errkind.Is(err, errkind.Usage) {
		t.Errorf("unknown field: %v, want a usage error at parse time", err)
	}
	// Every documented field resolves, and json writes JSON.
	all := "{{.Type}}{{.Time}}{{.Cap}}{{.Path}}{{.Root}}{{.Seqnum}}{{.PreviousSeqnum}}{{.RootHash}}{{.Size}}" +
		"{{.Via}}{{.Server}}{{.LatencyMS}}{{.Message}}{{.Warning}}{{.Schema}}{{.Kind}}{{.Mutable}}{{.EntrySize}}{{.PreviousCap}}"
	if _, err := events.NewTemplate(all); err != nil {
		t.Errorf("documented fields: %v", err)
	}
	j, err := events.NewTemplate("{{json .Path}} {{json .}}")
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := j.Print(&b, sample); err != nil {
		t.Fatal(err)
	}
	var line bytes.Buffer
	events.JSON{}.Print(&line, sample)
	if want := `"docs/a.txt" ` + line.String(); b.String() != want {
		t.Errorf("json: got %q, want %q", b.String(), want)
	}
}

func TestShortCap(t *testing.T) {
	for in, want := range map[string]string{
		"URI:SSK-RO:abcdefghijklmnop:qrstuv": "URI:SSK-RO:abcdefgh…",
		"URI:DIR2-MDMF-RO:abcdefghijk:zz":    "URI:DIR2-MDMF-RO:abcdefgh…",
		"short":                              "short",
	} {
		if got := events.ShortCap(in); got != want {
			t.Errorf("ShortCap(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDescribeAndEntryText(t *testing.T) {
	chk := "URI:CHK:lqbxv6hudr5rnbqkxbngrfpzzq:kbw5ocsfxwpzfgebhmu3hcrwqrzxxxlhaomyl6jdiw3i3uivbgoa:3:10:512"
	e := events.Event{Type: events.Removed, Time: sample.Time, Cap: chk, Path: "docs/note.txt", Seqnum: 7, Size: 2048, Via: events.ViaPush}
	e.Describe()
	if e.Kind != events.KindFile || e.Mutable || e.EntrySize != 512 || e.Schema != events.SchemaVersion {
		t.Errorf("CHK entry described as %+v", e)
	}
	var b bytes.Buffer
	(events.Text{}).Print(&b, e)
	if got, want := b.String(), "09:00:00.000 removed  docs/note.txt (file, 512 bytes) via push in 0s\n"; got != want {
		t.Errorf("got %q, want %q (no seq for an entry)", got, want)
	}
	d := events.Event{Type: events.Added, Cap: "URI:DIR2-RO:x:y"}
	d.Describe()
	if d.Kind != events.KindDirectory || d.EntrySize != -1 {
		t.Errorf("dir: %+v", d)
	}
	c := sample
	c.Describe()
	if !c.Mutable || c.EntrySize != c.Size || c.Kind != events.KindFile {
		t.Errorf("changed: %+v", c)
	}
}

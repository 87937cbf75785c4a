package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestLevelsAndFormats(t *testing.T) {
	for _, tc := range []struct {
		opts        Options
		debug, info bool
		errShown    bool
	}{
		{Options{}, false, true, true},
		{Options{Level: "debug"}, true, true, true},
		{Options{Level: "WARN"}, false, false, true},
		{Options{Level: "error"}, false, false, true},
		{Options{Verbose: true, Level: "error"}, true, true, true},
		{Options{Quiet: true}, false, false, true},
	} {
		var buf bytes.Buffer
		log, err := New(&buf, tc.opts)
		if err != nil {
			t.Fatalf("%+v: %v", tc.opts, err)
		}
		log.Debug("d")
		log.Info("i")
		log.Error("e")
		out := buf.String()
		if strings.Contains(out, "msg=d") != tc.debug || strings.Contains(out, "msg=i") != tc.info || strings.Contains(out, "msg=e") != tc.errShown {
			t.Errorf("%+v: got %q", tc.opts, out)
		}
	}
}

func TestJSONParsesLineByLine(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("one", "k", "v\nw")
	log.Warn("two", "n", 2)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["msg"] == nil {
			t.Errorf("line %q: %v", l, err)
		}
	}
}

func TestBadValuesRefused(t *testing.T) {
	for _, o := range []Options{{Level: "loud"}, {Format: "xml"}, {Verbose: true, Quiet: true}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, err := New(&bytes.Buffer{}, o); err == nil {
			t.Errorf("%+v: New accepted", o)
		}
	}
}

func TestAddFlags(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	AddFlags(fs, &o)
	if err := fs.Parse([]string{"--log-level", "debug", "--log-format", "json"}); err != nil {
		t.Fatal(err)
	}
	if o.Level != "debug" || o.Format != "json" {
		t.Errorf("got %+v", o)
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
)

// TestWatchLogFlags: --log-format json logs one JSON object per line
// (and the write cap given never appears in them); -q logs nothing but
// errors while events still print.
func TestWatchLogFlags(t *testing.T) {
	g, p, c := watchGrid(t)
	key := writeKey(t, c.String())
	change := func(text string) {
		if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte(text), nil }); err != nil {
			t.Fatal(err)
		}
	}
	// JSON logs: wait for the "watching" record, change, check every line.
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- Run(context.Background(), Streams{In: strings.NewReader(""), Out: out, Err: errOut},
			append(g.ServerFlags(), "--log-format", "json", "--log-level", "debug", "--once", c.String()))
	}()
	waitText(t, errOut, `"msg":"watching"`)
	change("two")
	if got := <-code; got != ExitOK {
		t.Fatalf("exit %d: %s", got, errOut.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] == nil {
			t.Errorf("log line %q is not a JSON record: %v", l, err)
		}
	}
	if strings.Contains(errOut.String(), key) || !strings.Contains(errOut.String(), `"level":"DEBUG"`) {
		t.Errorf("JSON debug logs show the write key, or no debug record:\n%s", errOut.String())
	}

	// -q: no log lines; the event is still printed.
	out, errOut = &lockedBuffer{}, &lockedBuffer{}
	go func() {
		code <- Run(context.Background(), Streams{In: strings.NewReader(""), Out: out, Err: errOut},
			append(g.ServerFlags(), "-q", "--once", c.ReadOnly().String()))
	}()
	for i := 0; ; i++ {
		change("q" + string(rune('a'+i%26)))
		select {
		case got := <-code:
			if got != ExitOK || errOut.String() != "" || !strings.Contains(out.String(), "changed") {
				t.Errorf("-q: exit %d, stdout %q, stderr %q", got, out.String(), errOut.String())
			}
			return
		case <-time.After(500 * time.Millisecond):
		}
		if i > 60 {
			t.Fatalf("-q: no change seen; stderr %q", errOut.String())
		}
	}
}

// waitText waits until b contains s.
func waitText(t *testing.T, b *lockedBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", s, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLoggerErrorsInWordsAndScrubbed(t *testing.T) {
	_, caps := manyCaps(1)
	c := caps[0]
	err := fmt.Errorf("reading: %w", errkind.E("watchproto.Dial", errkind.Unreachable, "watch handshake refused for "+c))
	for _, level := range []string{"info", "debug"} {
		var b bytes.Buffer
		l, lerr := newLogger(&b, logging.Options{Level: level})
		if lerr != nil {
			t.Fatal(lerr)
		}
		l.With("server", "s1").Error("push unavailable", "err", err, "cap", c)
		s := b.String()
		if strings.Contains(s, writeKey(t, c)) || !strings.Contains(s, "watch handshake refused") {
			t.Errorf("%s: %s", level, s)
		}
		if withOp := strings.Contains(s, "watchproto.Dial"); withOp != (level == "debug") {
			t.Errorf("%s: op name shown %v: %s", level, withOp, s)
		}
	}
}

// TestJSONLogsErrorLine: with --log-format json the error line and the
// ignored-flag warnings are JSON records too, so every line of stderr
// parses (a log shipper reads them all); without it they stay text.
func TestJSONLogsErrorLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--base-dir", t.TempDir(), "--listen", "0.0.0.0:0", "--log-format", "json"}, "--location"},
		{[]string{"--log-format", "json", "--debounce", "1s", "--server", "pb://x", "URI:SSK-RO:x"}, "--debounce is ignored"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, c.args); code != ExitUsage {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] == nil || m["msg"] == nil {
				t.Errorf("%v: stderr line %q is not a JSON record: %v", c.args, l, err)
			}
		}
		if !strings.Contains(errOut.String(), c.want) || !strings.Contains(errOut.String(), `"level":"ERROR"`) {
			t.Errorf("%v: stderr %q lacks %q or an ERROR record", c.args, errOut.String(), c.want)
		}
	}
	var errOut bytes.Buffer
	Run(context.Background(), Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errOut}, []string{"--server", "pb://x", "URI:SSK-RO:x"})
	if !strings.HasPrefix(errOut.String(), "tahoe-watch: ") {
		t.Errorf("text: %q", errOut.String())
	}
}

package cap

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// testWriteCaps returns one write cap of every mutable write kind and the
// base32 text of each one's writekey.
func testWriteCaps() ([]*Mutable, []string) {
	var caps []*Mutable
	var keys []string
	for i, f := range []Format{SDMF, MDMF} {
		for j, dir := range []bool{false, true} {
			wk := bytes.Repeat([]byte{byte(1 + 2*i + j)}, KeyLen)
			fp := bytes.Repeat([]byte{9}, FingerprintLen)
			caps = append(caps, NewMutableFromKeys(f, dir, wk, fp))
			keys = append(keys, base32.Encode(wk))
		}
	}
	return caps, keys
}

func TestDefaultFormattingNeverShowsTheWritekey(t *testing.T) {
	caps, keys := testWriteCaps()
	for i, m := range caps {
		var c Cap = m
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("x", "cap", c, "value", *m)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("x", "cap", c, "group", slog.GroupValue(slog.Any("c", c)))
		wrapped := fmt.Errorf("outer: %w", fmt.Errorf("reading %v", c))
		type holder struct {
			C   Cap
			M   Mutable
			Any any
		}
		var nested bytes.Buffer
		slog.New(slog.NewJSONHandler(&nested, nil)).Info("x", "v", holder{c, *m, []Cap{c}})
		asJSON, _ := json.Marshal(holder{c, *m, c})
		if strings.Contains(nested.String()+string(asJSON), base64.StdEncoding.EncodeToString(m.Writekey)) {
			t.Errorf("%s: JSON of a struct holding it shows the writekey: %s", c.Kind(), asJSON)
		}
		shown := []string{
			fmt.Sprintf("%v", c), fmt.Sprintf("%s", c), fmt.Sprintf("%q", c), fmt.Sprintf("%+v", c),
			fmt.Sprintf("%#v", c), fmt.Sprintf("%v", *m), fmt.Sprintf("%+v", *m), fmt.Sprintf("%#v", *m),
			fmt.Sprintf("%x", c), fmt.Sprint(c), fmt.Sprintln([]Cap{c}), fmt.Sprintf("%v", map[string]Cap{"a": c}),
			fmt.Sprintf("%v", struct{ C Cap }{c}), fmt.Sprintf("%+v", struct{ C *Mutable }{m}),
			text.String(), js.String(), wrapped.Error(), errors.Unwrap(wrapped).Error(), nested.String(), string(asJSON),
		}
		for j, s := range shown {
			if strings.Contains(s, keys[i]) {
				t.Errorf("%s: form %d shows the writekey: %s", c.Kind(), j, s)
			}
			if !strings.Contains(s, c.ReadOnly().String()) && j != 8 {
				t.Errorf("%s: form %d does not show the read cap: %s", c.Kind(), j, s)
			}
		}
		if got := c.String(); !strings.Contains(got, keys[i]) {
			t.Errorf("%s: String() = %s, want the full write cap", c.Kind(), got)
		}
		if got := fmt.Sprintf("%q", c); got != `"`+c.ReadOnly().String()+`"` {
			t.Errorf("%%q = %s", got)
		}
	}
}

func TestScrub(t *testing.T) {
	caps, keys := testWriteCaps()
	for i, m := range caps {
		in := "cat: " + m.String() + "/docs/x is a directory; again " + m.String()
		out := Scrub(in)
		if strings.Contains(out, keys[i]) {
			t.Errorf("Scrub left the writekey: %s", out)
		}
		if want := "cat: " + m.ReadOnly().String() + "/docs/x is a directory; again " + m.ReadOnly().String(); out != want {
			t.Errorf("Scrub(%q)\n = %q\nwant %q", in, out, want)
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(ScrubWriter(&buf), nil)).Info("typed "+m.String(), "arg", m.String())
		if strings.Contains(buf.String(), keys[i]) || !strings.Contains(buf.String(), m.ReadOnly().String()) {
			t.Errorf("ScrubWriter: %s", buf.String())
		}
	}
	// A mangled write cap (a key of the wrong length) is redacted whole.
	bad := "URI:SSK:" + keys[0] + "zz:abc"
	if out := Scrub("x " + bad + " y"); out != "x URI:SSK:<redacted> y" {
		t.Errorf("Scrub of a mangled cap = %q", out)
	}
	// Read caps and other text are left alone.
	ro := caps[0].ReadOnly().String()
	if out := Scrub(ro + " URI:DIR2-RO:x URI:CHK:abc"); out != ro+" URI:DIR2-RO:x URI:CHK:abc" {
		t.Errorf("Scrub changed read caps: %q", out)
	}
}

// FuzzScrub: whatever the text, Scrub's output holds no write cap, and
// text without one is left as it is.
func FuzzScrub(f *testing.F) {
	caps, _ := testWriteCaps()
	for _, m := range caps {
		f.Add("error: " + m.String() + "/a/b")
		f.Add(m.ReadOnly().String())
	}
	f.Add("URI:SSK:abc URI:DIR2-MDMF:zz:yy URI:MDMF:")
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		for _, w := range writeCapText.FindAllString(out, -1) {
			if c, err := Parse(w); err == nil && !c.IsReadOnly() {
				t.Fatalf("Scrub(%q) = %q still holds a write cap", s, out)
			}
		}
		if !writeCapText.MatchString(s) && out != s {
			t.Fatalf("Scrub changed text without a write cap: %q -> %q", s, out)
		}
	})
}

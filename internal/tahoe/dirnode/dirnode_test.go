package dirnode

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// testWritekey is the writekey the sealed caps below were made with.
var testWritekey = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

const (
	capLIT  = "URI:LIT:n5xgk"
	capSSK  = "URI:SSK:vfvcbdfbszyrsaxchgevhmmlii:euw4iw7bbnkrrwpzuburbhppuxhc3gwxv26f6imekhz7zyw2ojnq"
	capSSKR = "URI:SSK-RO:e3mdrzfwhoq42hy5ubcz6rp3o4:ybyibhnp3vvwuq2vaw2ckjmesgkklfs6ghxleztqidihjyofgw7q"
	capCHK  = "URI:CHK:n7r3m6wmomelk4sep3kw5cvduq:os7ijw5c3maek7pg65e5254k2fzjflavtpejjyhshpsxuqzhcwwq:3:20:14861"
)

// Sealed write caps under testWritekey, computed with Tahoe-LAFS's own
// hashutil.mutable_rwcap_{salt,key}_hash, hashutil.hmac and crypto.aes
// (not with this repository's code): salt(16) || AES-CTR || MAC(32).
var (
	sealedEmpty = mustHex("d05f738a043b8404b7495ccb5d550186" + "" +
		"6971af5bc2acc121f3a8c3c9e4c67eaa2cf628b320d73bc02284aa976c0018c7")
	sealedSSK = mustHex("ee5c9ccd5eb300827c240713098ea86d" +
		"aa3a54f4c8d78b40f282bb2d31cbf20a111cf770839711990717ee61b667f3b778ddf367e03b57aa73e5044e2f6cec3602c516d535055bdb012d2227d8e4ef1c71c6b1aa5a677b6bfefb873d9b2b9d2b1f5390" +
		"1fbbfdffbb4f1eb22a1eeb7e3427fd6a1b27dcdbbcecba2730f3fbd4395bfe1acffabe87")
)

// ns writes a netstring, for tests that are not about the framing.
func ns(s string) string { return fmt.Sprintf("%d:%s,", len(s), s) }

// entry writes one directory entry from its four fields.
func entry(name, ro, sealed, md string) string { return ns(ns(name) + ns(ro) + ns(sealed) + ns(md)) }

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGoldenImmutable compares Pack with bytes assembled by hand from
// dirnodes.rst: netstring(netstring(name) netstring(rocap) netstring("")
// netstring(metadata)) per child, children sorted by name.
func TestGoldenImmutable(t *testing.T) {
	entries := []Entry{
		{Name: "zeta", ROCap: capLIT, Metadata: json.RawMessage(`{}`)},
		{Name: "alpha", ROCap: capCHK, Metadata: json.RawMessage(`{"tahoe": {"linkcrtime": 1.5, "linkmotime": 2.0}}`)},
	}
	want := "" +
		"166:" + "5:alpha," + "98:" + capCHK + "," + "0:," + "49:" + `{"tahoe": {"linkcrtime": 1.5, "linkmotime": 2.0}}` + ",," +
		"32:" + "4:zeta," + "13:" + capLIT + "," + "0:," + "2:{}," + ","
	got, err := Pack(entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("Pack:\n got %q\nwant %q", got, want)
	}
	back, err := ParseImmutable(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, []Entry{entries[1], entries[0]}) {
		t.Errorf("ParseImmutable = %+v", back)
	}
}

// TestGoldenMutable: the same with sealed write caps made by Tahoe's code.
func TestGoldenMutable(t *testing.T) {
	entries := []Entry{
		{Name: "b", ROCap: capSSKR, RWCap: capSSK},
		{Name: "a", ROCap: capLIT},
	}
	var want []byte
	want = append(want, "78:1:a,13:"+capLIT+",48:"...)
	want = append(want, sealedEmpty...)
	want = append(want, ",2:{},,"...)
	want = append(want, "243:1:b,90:"+capSSKR+",135:"...)
	want = append(want, sealedSSK...)
	want = append(want, ",2:{},,"...)
	got, err := Pack(entries, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Pack:\n got %q\nwant %q", got, want)
	}
	back, err := Parse(got, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	wantBack := []Entry{
		{Name: "a", ROCap: capLIT, Metadata: json.RawMessage(`{}`)},
		{Name: "b", ROCap: capSSKR, RWCap: capSSK, Metadata: json.RawMessage(`{}`)},
	}
	if !reflect.DeepEqual(back, wantBack) {
		t.Errorf("Parse = %+v", back)
	}
}

func TestEmpty(t *testing.T) {
	got, err := Pack(nil, testWritekey)
	if err != nil || len(got) != 0 {
		t.Fatalf("Pack(nil) = %q, %v", got, err)
	}
	entries, err := Parse(nil, testWritekey)
	if err != nil || len(entries) != 0 {
		t.Fatalf("Parse(empty) = %v, %v", entries, err)
	}
}

func TestNFC(t *testing.T) {
	nfd := "cafe\u0301" // e + combining acute
	nfc := "caf\u00e9"
	got, err := Pack([]Entry{{Name: nfd, ROCap: capLIT}}, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("5:"+nfc+",")) {
		t.Fatalf("name not stored in NFC: %q", got)
	}
	// A directory written by someone else with an NFD name reads as NFC.
	raw := entry(nfd, capLIT, "", "{}")
	entries, err := Parse([]byte(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if entries[0].Name != nfc {
		t.Errorf("Parse name %q, want NFC %q", entries[0].Name, nfc)
	}
	if _, ok := Find(entries, nfd); !ok {
		t.Error("Find by NFD name failed")
	}
	// NFD and NFC spellings are the same name.
	_, err = Pack([]Entry{{Name: nfd, ROCap: capLIT}, {Name: nfc, ROCap: capLIT}}, nil)
	if !errkind.Is(err, errkind.Usage) {
		t.Errorf("duplicate after NFC: %v", err)
	}
}

// TestUnknownCaps: caps of unknown kinds survive as strings; the "ro."
// prefix is implied by the slot, "imm." only in an immutable directory.
func TestUnknownCaps(t *testing.T) {
	entries := []Entry{
		{Name: "future-rw", ROCap: "ro.x-tahoe-future:ro", RWCap: "x-tahoe-future:rw"},
		{Name: "future-imm", ROCap: "imm.x-tahoe-future:imm"},
		{Name: "future-ro", ROCap: "x-tahoe-future:plain"},
	}
	packed, err := Pack(entries, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(packed, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"future-rw":  {"x-tahoe-future:ro", "x-tahoe-future:rw"},
		"future-imm": {"imm.x-tahoe-future:imm", ""},
		"future-ro":  {"x-tahoe-future:plain", ""},
	}
	for _, e := range got {
		if w := want[e.Name]; e.ROCap != w[0] || e.RWCap != w[1] {
			t.Errorf("%s: %q %q, want %q %q", e.Name, e.ROCap, e.RWCap, w[0], w[1])
		}
	}
	packed, err = Pack(entries[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseImmutable(packed)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := Find(got, "future-imm"); e.ROCap != "x-tahoe-future:imm" {
		t.Errorf("immutable dir kept prefix: %q", e.ROCap)
	}
}

func TestMetadataKeptExactly(t *testing.T) {
	md := json.RawMessage(` {"b": [1, 2.50, "\u00e9"], "a": {"tahoe": null}, "x": 1e400000000} `)
	// 1e400000000 is valid JSON text even if no float holds it.
	entries := []Entry{{Name: "f", ROCap: capLIT, Metadata: md}}
	packed, err := Pack(entries, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(packed, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0].Metadata, md) {
		t.Errorf("metadata changed: %s", got[0].Metadata)
	}
}

// TestTrailingSpaces: Tahoe strips trailing spaces from both caps.
func TestTrailingSpaces(t *testing.T) {
	packed, err := Pack([]Entry{{Name: "f", ROCap: capSSKR + "   ", RWCap: capSSK + "  "}}, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(packed, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ROCap != capSSKR || got[0].RWCap != capSSK {
		t.Errorf("got %+v", got[0])
	}
}

// TestLaterDuplicateWins: as in Tahoe's dict, a later entry of the same
// name replaces an earlier one.
func TestLaterDuplicateWins(t *testing.T) {
	raw := entry("a", capLIT, "", "{}") + entry("a", capLIT, "", `{"x":1}`)
	got, err := Parse([]byte(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Metadata) != `{"x":1}` {
		t.Errorf("got %+v", got)
	}
}

// TestIgnoresTrailerInEntry: bytes after an entry's four netstrings are
// ignored, as Tahoe's split_netstring ignores them.
func TestIgnoresTrailerInEntry(t *testing.T) {
	raw := ns(ns("a") + ns(capLIT) + ns("") + ns("{}") + "junk")
	got, err := Parse([]byte(raw), nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// TestParseErrors: broken framing makes the whole directory unreadable.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		want      string
	}{
		{"no colon", "12", "missing ':'"},
		{"bad length", "1a:x,", "not a decimal"},
		{"empty length", ":x,", "not a decimal"},
		{"sign", "+1:x,", "not a decimal"},
		{"huge length", "99999999999999999999:x,", "not a decimal"},
		{"past end", "5:ab,", "past the end"},
		{"no comma", "2:ab;", "missing ','"},
		{"trailing garbage", entry("a", "c", "", "{}") + "x", "not a decimal"},
		{"garbage after hostile entry", entry("\xff", "c", "", "{}") + "x", "not a decimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, err := range []error{second(Parse([]byte(tt.raw), testWritekey)), second(ParseDirImmutable([]byte(tt.raw)))} {
				if !errkind.Is(err, errkind.Corrupt) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want Corrupt with %q", err, tt.want)
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// TestUnusableEntries: an entry that cannot be used is skipped, the
// others still read, and the entry is kept exactly as stored.
func TestUnusableEntries(t *testing.T) {
	sealed := string(sealedSSK)
	good := entry("good", capLIT, "", "{}")
	tests := []struct {
		name, raw string
		wk        []byte
		immutable bool
		want      string
	}{
		{"three fields", ns(ns("a") + ns("b") + ns("{}")), nil, false, "not four fields"},
		{"inner garbage", ns("zz"), nil, false, "not four fields"},
		{"bad utf8", entry("\xff\xfe", capLIT, "", "{}"), nil, false, "not valid UTF-8"},
		{"empty name", entry("", capLIT, "", "{}"), nil, false, "empty"},
		{"dot", entry(".", capLIT, "", "{}"), nil, false, `"."`},
		{"dotdot", entry("..", capLIT, "", "{}"), nil, false, `".."`},
		{"slash", entry("../x", capLIT, "", "{}"), nil, false, "'/'"},
		{"newline", entry("a\nb", capLIT, "", "{}"), nil, false, "control character"},
		{"escape", entry("\x1b[31mred", capLIT, "", "{}"), nil, false, "control character"},
		{"C1 control", entry("a\u0085", capLIT, "", "{}"), nil, false, "control character"},
		{"bad json", entry("a", capLIT, "", "{x"), nil, false, "not valid JSON"},
		{"json array", entry("a", capLIT, "", "[]"), nil, false, "not a JSON object"},
		{"json utf8", entry("a", capLIT, "", "\"\xff\""), nil, false, "UTF-8"},
		{"bad known cap", entry("a", "URI:CHK:nope", "", "{}"), nil, false, "read cap"},
		{"write cap in read slot", entry("a", capSSK, "", "{}"), nil, false, "read cap"},
		{"mutable cap in immutable dir", entry("a", capSSKR, "", "{}"), nil, true, "read cap"},
		{"short sealed", entry("a", capLIT, "abc", "{}"), testWritekey, false, "shorter than salt"},
		{"bad MAC", entry("a", capSSKR, sealed[:134]+"x", "{}"), testWritekey, false, "MAC"},
		{"immutable sealed", entry("a", capLIT, "abc", "{}"), nil, true, "sealed write cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contents := []byte(tt.raw + good)
			parse := func() (*Dir, error) { return ParseDir(contents, tt.wk) }
			if tt.immutable {
				parse = func() (*Dir, error) { return ParseDirImmutable(contents) }
			}
			d, err := parse()
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Entries) != 1 || d.Entries[0].Name != "good" || len(d.Unusable) != 1 {
				t.Fatalf("got %+v", d)
			}
			u := d.Unusable[0]
			if !strings.Contains(u.Reason, tt.want) || u.Offset != 0 || string(u.Raw) != tt.raw {
				t.Errorf("unusable %+v, want reason with %q", u, tt.want)
			}
			if s := u.String(); strings.ContainsAny(s, "\n\x1b\u0085") || strings.Contains(s, capSSK) {
				t.Errorf("String() %q shows a control character or a cap", s)
			}
			wk := tt.wk
			if wk == nil && !tt.immutable {
				wk = testWritekey // an editor's view: the read-only parse is the same here
				if d, err = ParseDir(contents, wk); err != nil || len(d.Unusable) != 1 {
					t.Fatalf("with writekey: %+v, %v", d, err)
				}
			}
			packed, err := PackDir(d, wk)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(packed, []byte(tt.raw)) {
				t.Fatalf("PackDir lost the unusable entry: %q", packed)
			}
		})
	}
}

// TestPackDirOrder: unusable entries go back in their place in the name
// order (by bytes, as Tahoe's sort orders code points), so a sorted
// directory packs back to its own bytes, and a new entry lands where
// Tahoe would put it.
func TestPackDirOrder(t *testing.T) {
	good, err := Pack([]Entry{{Name: "a", ROCap: capLIT}, {Name: "c", ROCap: capLIT}}, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDir(good, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	bad := entry("b\xff", capLIT, "", "{}")
	aEnd := bytes.Index(good, []byte("1:c,")) - len("78:")
	contents := append(append(append([]byte{}, good[:aEnd]...), bad...), good[aEnd:]...)
	d, err = ParseDir(contents, testWritekey)
	if err != nil || len(d.Entries) != 2 || len(d.Unusable) != 1 {
		t.Fatalf("%+v, %v", d, err)
	}
	if got, err := PackDir(d, testWritekey); err != nil || !bytes.Equal(got, contents) {
		t.Fatalf("PackDir = %q, %v\nwant %q", got, err, contents)
	}
	d.Entries = append(d.Entries, Entry{Name: "bb", ROCap: capLIT})
	got, err := PackDir(d, testWritekey)
	if err != nil {
		t.Fatal(err)
	}
	a, bb, b, c := bytes.Index(got, []byte("1:a,")), bytes.Index(got, []byte("2:bb,")), bytes.Index(got, []byte(bad)), bytes.Index(got, []byte("1:c,"))
	if !(a >= 0 && a < bb && bb < b && b < c) {
		t.Errorf("entries out of order: %q", got)
	}
	d.Unusable[0].Raw = []byte("3:abc,junk")
	if _, err := PackDir(d, testWritekey); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("PackDir of a broken raw entry: %v", err)
	}
}

// TestUnknownKindsUsable: caps of kinds this program does not know are
// Tahoe's forward compatibility, not unusable.
func TestUnknownKindsUsable(t *testing.T) {
	raw := entry("f", "URI:NEWKIND:x", "", "{}") + entry("g", "imm.x-tahoe-future:y", "", "{}")
	d, err := ParseDir([]byte(raw), nil)
	if err != nil || len(d.Entries) != 2 || len(d.Unusable) != 0 {
		t.Fatalf("%+v, %v", d, err)
	}
}

func TestDescribe(t *testing.T) {
	us := make([]Unusable, 25)
	for i := range us {
		us[i] = Unusable{Name: strings.Repeat("x", 500), Offset: i, Reason: "name is empty"}
	}
	lines := Describe(us, 10)
	if len(lines) != 10 || lines[9] != "16 more entries that cannot be used" || len(lines[0]) > 200 {
		t.Fatalf("%q", lines)
	}
	if got := Describe(us[:10], 10); len(got) != 10 || strings.Contains(got[9], "more") {
		t.Fatalf("%q", got)
	}
}

func TestBadWritekey(t *testing.T) {
	if _, err := Parse(nil, []byte("short")); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("Parse: %v", err)
	}
	if _, err := Pack(nil, []byte("short")); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("Pack: %v", err)
	}
}

func TestPackRefuses(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		wk      []byte
		kind    errkind.Kind
	}{
		{"empty name", []Entry{{Name: ""}}, testWritekey, errkind.Usage},
		{"slash", []Entry{{Name: "a/b"}}, testWritekey, errkind.Usage},
		{"dotdot", []Entry{{Name: ".."}}, testWritekey, errkind.Usage},
		{"control", []Entry{{Name: "a\x1b"}}, testWritekey, errkind.Usage},
		{"bad utf8", []Entry{{Name: "\xff"}}, testWritekey, errkind.Usage},
		{"duplicate", []Entry{{Name: "a"}, {Name: "a"}}, testWritekey, errkind.Usage},
		{"metadata array", []Entry{{Name: "a", Metadata: json.RawMessage(`[1]`)}}, testWritekey, errkind.Invalid},
		{"metadata junk", []Entry{{Name: "a", Metadata: json.RawMessage(`{`)}}, testWritekey, errkind.Invalid},
		{"rw cap, no key", []Entry{{Name: "a", ROCap: capSSKR, RWCap: capSSK}}, nil, errkind.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Pack(tt.entries, tt.wk); !errkind.Is(err, tt.kind) {
				t.Errorf("err = %v, want kind %v", err, tt.kind)
			}
		})
	}
}

func TestPackDoesNotModifyInput(t *testing.T) {
	in := []Entry{{Name: "b"}, {Name: "cafe\u0301"}, {Name: "a"}}
	if _, err := Pack(in, nil); err != nil {
		t.Fatal(err)
	}
	if in[0].Name != "b" || in[1].Name != "cafe\u0301" {
		t.Errorf("input modified: %+v", in)
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", 1.5: "1.5", 1795598473.5164757: "1795598473.5164757",
		1e16: "1e+16", 1.5e-5: "1.5e-05", 0.0001: "0.0001", -2: "-2.0", math.MaxInt32: "2147483647.0",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestLinkTimesAbsent(t *testing.T) {
	for _, md := range []string{`{}`, `{"tahoe": {"linkcrtime": 1}}`, `{"tahoe": "x"}`, `[`} {
		if _, _, ok := LinkTimes(json.RawMessage(md)); ok {
			t.Errorf("LinkTimes(%s) ok", md)
		}
	}
}

package cap

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Real caps from the Tahoe-LAFS 1.20 grid in testdata/grid.
const (
	sskW  = "URI:SSK:b5ahkm7zkvm4eacjpiwm3ks454:ulcoxpkrq6iy3eah5ld6q7dmxre26ahfilbitjughysfwtfmkjga"
	sskR  = "URI:SSK-RO:whr4cmgi27aezfxaeurtrl3n5i:ulcoxpkrq6iy3eah5ld6q7dmxre26ahfilbitjughysfwtfmkjga"
	sskV  = "URI:SSK-Verifier:dqrkoatek6jcaq4mqnlomig4wq:ulcoxpkrq6iy3eah5ld6q7dmxre26ahfilbitjughysfwtfmkjga"
	mdmfW = "URI:MDMF:4fzjwut2elsnuzllbse5y2w3cq:slwaqjhkl4tdpplnpebrycfznbvyse6xzgzsiigp4tmies376vpa"
	mdmfR = "URI:MDMF-RO:275joh6ygca4rvvdnn2ffon6am:slwaqjhkl4tdpplnpebrycfznbvyse6xzgzsiigp4tmies376vpa"
	mdmfV = "URI:MDMF-Verifier:kv6sea4n2wbyw7fv6ze6rddfwm:slwaqjhkl4tdpplnpebrycfznbvyse6xzgzsiigp4tmies376vpa"
	chkR  = "URI:CHK:pi3zchhjtfzhms6ls6oixwxquy:fpib6dfyvfn5g2cg7w6a2dhgt5vwimy5nshgzy4jjedet73o5zsa:3:5:307200"
	chkV  = "URI:CHK-Verifier:ocbscko7natvut7km2csd3hhgm:fpib6dfyvfn5g2cg7w6a2dhgt5vwimy5nshgzy4jjedet73o5zsa:3:5:307200"
	litR  = "URI:LIT:oruw46ik"
)

// TestDirWrappers checks that each directory kind carries exactly the
// fields of its file kind, and that derivations commute with wrapping.
func TestDirWrappers(t *testing.T) {
	for _, file := range []string{sskW, sskR, sskV, mdmfW, mdmfR, mdmfV, chkR, chkV, litR} {
		f := mustParse(t, file)
		dirText := strings.Replace(file, "URI:", "URI:DIR2-", 1)
		dirText = strings.Replace(dirText, "DIR2-SSK-", "DIR2-", 1)
		dirText = strings.Replace(dirText, "DIR2-SSK:", "DIR2:", 1)
		d := mustParse(t, dirText)
		checkRoundTrip(t, dirText, d)
		if !d.IsDir() || f.IsDir() || d.IsMutable() != f.IsMutable() || d.IsReadOnly() != f.IsReadOnly() {
			t.Errorf("%s: flags differ between %v and %v", file, f.Kind(), d.Kind())
		}
		if got := WithDir(d, false).String(); got != file {
			t.Errorf("WithDir(%s, false) = %s", dirText, got)
		}
		if got := WithDir(f, true).String(); got != dirText {
			t.Errorf("WithDir(%s, true) = %s", file, got)
		}
		if !bytes.Equal(d.StorageIndex(), f.StorageIndex()) {
			t.Errorf("%s: storage index differs in the directory form", file)
		}
		if got, want := d.ReadOnly().String(), WithDir(f.ReadOnly(), true).String(); got != want {
			t.Errorf("%s: dir ReadOnly = %s, want %s", dirText, got, want)
		}
		checkDirVerifier(t, f, d)
	}
}

func checkDirVerifier(t *testing.T, f, d Cap) {
	t.Helper()
	fv, dv := f.Verifier(), d.Verifier()
	if fv == nil || dv == nil {
		if fv != nil || dv != nil {
			t.Errorf("%v: verifier presence differs", f.Kind())
		}
		return
	}
	if got, want := dv.String(), WithDir(fv, true).String(); got != want {
		t.Errorf("%v: dir Verifier = %s, want %s", d.Kind(), got, want)
	}
}

// TestKinds checks the properties each kind reports.
func TestKinds(t *testing.T) {
	tests := []struct {
		cap              string
		kind             Kind
		mutable, dir, ro bool
	}{
		{sskW, KindSSK, true, false, false},
		{sskR, KindSSKRO, true, false, true},
		{sskV, KindSSKVerifier, true, false, true},
		{mdmfW, KindMDMF, true, false, false},
		{chkR, KindCHK, false, false, true},
		{chkV, KindCHKVerifier, false, false, true},
		{litR, KindLIT, false, false, true},
		{"URI:DIR2-MDMF-Verifier" + mdmfV[len("URI:MDMF-Verifier"):], KindDir2MDMFVerifier, true, true, true},
		{"URI:DIR2-LIT:", KindDir2LIT, false, true, true},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.cap)
		if c.Kind() != tt.kind || c.IsMutable() != tt.mutable || c.IsDir() != tt.dir || c.IsReadOnly() != tt.ro {
			t.Errorf("%s: got %v mutable=%v dir=%v ro=%v", tt.kind, c.Kind(), c.IsMutable(), c.IsDir(), c.IsReadOnly())
		}
		if !strings.HasPrefix(tt.cap, c.Kind().String()+":") {
			t.Errorf("Kind.String() = %q for %s", c.Kind(), tt.cap)
		}
	}
	if KindInvalid.String() != "URI:?" || Kind(99).IsDir() || Kind(-1).Access() != 0 {
		t.Error("invalid kinds must describe themselves safely")
	}
}

// TestLiteral checks literal caps hold their data, including empty files.
func TestLiteral(t *testing.T) {
	c := mustParse(t, litR).(*LIT)
	if string(c.Data) != "tiny\n" || c.StorageIndex() != nil || c.Verifier() != nil {
		t.Errorf("LIT = %#v", c)
	}
	empty := mustParse(t, "URI:LIT:").(*LIT)
	if len(empty.Data) != 0 || empty.String() != "URI:LIT:" {
		t.Errorf("empty LIT = %#v", empty)
	}
	if got := Abbrev(c); got != "URI:LIT (5 bytes)" {
		t.Errorf("Abbrev = %q", got)
	}
	if got := Abbrev(mustParse(t, sskW)); got != "URI:SSK (SI dqrko)" {
		t.Errorf("Abbrev = %q", got)
	}
}

// TestCanonicalForms checks the inputs Tahoe accepts that print
// differently: alleged prefixes, MDMF extensions and leading zeros.
func TestCanonicalForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ro." + sskR, sskR},
		{"ro." + chkR, chkR},
		{"imm." + chkR, chkR},
		{"imm." + sskV, sskV},
		{"imm." + litR, litR},
		{mdmfW + ":I COME FROM THE FUTURE", mdmfW},
		{mdmfR + ":ooh scary future stuff", mdmfR},
		{mdmfV + ":spoilers!", mdmfV},
		{mdmfV + ":", mdmfV},
		{"URI:DIR2-MDMF" + mdmfW[len("URI:MDMF"):] + ":3:131073", "URI:DIR2-MDMF" + mdmfW[len("URI:MDMF"):]},
		{strings.Replace(chkR, ":3:5:", ":03:005:", 1), chkR},
	}
	for _, tt := range tests {
		c, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%.40q): %v", tt.in, err)
			continue
		}
		if got := c.String(); got != tt.want {
			t.Errorf("Parse(%.40q).String() = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestParseErrors checks malformed caps are rejected with a Usage error
// that names the fault and never contains key material.
func TestParseErrors(t *testing.T) {
	wk := strings.Split(sskW, ":")[2]
	fp := strings.Split(sskW, ":")[3]
	ueb := strings.Split(chkR, ":")[3]
	key := strings.Split(chkR, ":")[2]
	tests := []struct{ in, want string }{
		{"", "empty cap"},
		{"http://example/", `must start with "URI:"`},
		{"URI:FOO:" + wk, `unknown cap kind "URI:FOO"`},
		{"URI:SSK", "URI:SSK: no fields"},
		{"URI:SSK:" + wk, "URI:SSK: too few fields"},
		{"URI:SSK:" + wk + ":" + fp + ":x", "URI:SSK: too many fields"},
		{"URI:DIR2:" + wk + ":" + fp + ":", "URI:DIR2: too many fields"},
		{"URI:SSK:" + wk[1:] + ":" + fp, "URI:SSK writekey: 25 characters, want 26"},
		{"URI:SSK:" + strings.ToUpper(wk) + ":" + fp, "URI:SSK writekey: character"},
		{"URI:SSK:" + wk[:25] + "b:" + fp, "URI:SSK writekey: not canonical base32"},
		{"URI:SSK-RO:" + wk + "a:" + fp, "URI:SSK-RO readkey: 27 characters"},
		{"URI:SSK:" + wk + ":" + fp[:51] + "1", "URI:SSK fingerprint: character '1'"},
		{"URI:MDMF-Verifier:" + wk + ":" + fp + "a", "URI:MDMF-Verifier fingerprint: 53 characters, want 52"},
		{sskW + "\n", "URI:SSK fingerprint: 53 characters"},
		{"URI:CHK:" + key + ":" + ueb + ":3:5", "URI:CHK: 4 fields, want 5"},
		{chkR + ":x", "URI:CHK: 6 fields, want 5"},
		{chkV + "garbage", "URI:CHK-Verifier size: \"307200garbage\" is not a decimal number"},
		{"URI:CHK:" + key + ":" + ueb + ":6:5:10", "URI:CHK: k = 6 is greater than N = 5"},
		{"URI:CHK:" + key + ":" + ueb + ":0:5:10", "URI:CHK: k = 0, want 1..256"},
		{"URI:DIR2-CHK:" + key + ":" + ueb + ":3:257:10", "URI:DIR2-CHK: N = 257, want 1..256"},
		{"URI:CHK:" + key + ":" + ueb + ":3:5:", "URI:CHK size: empty"},
		{"URI:CHK:" + key + ":" + ueb + ":+3:5:1", `URI:CHK k: "+3" is not a decimal number`},
		{"URI:CHK:" + key + ":" + ueb + ":3:5:18446744073709551616", "URI:CHK size: \"18446744073709551616\" is out of range"},
		{"URI:CHK:" + key + ":" + ueb[:51] + ":3:5:1", "URI:CHK UEB hash: 51 characters, want 52"},
		{"URI:CHK-Verifier:" + key + "x:" + ueb + ":3:5:1", "URI:CHK-Verifier storage index: 27 characters"},
		{"URI:LIT:a", "URI:LIT data: not canonical base32"},
		{"URI:LIT:ab:c", "URI:LIT data: character ':' at offset 2"},
		{"URI:DIR2-LIT:ORUW46IK", "URI:DIR2-LIT data: character 'O'"},
		{"ro." + sskW, "URI:SSK is a write cap; not allowed after \"ro.\""},
		{"imm." + sskR, "URI:SSK-RO cap can read or write a mutable object"},
		{"imm.ro." + chkR, `must start with "URI:"`},
	}
	for _, tt := range tests {
		c, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%.50q) = %v, want error containing %q", tt.in, c, tt.want)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "cap.Parse: ") || !strings.Contains(msg, tt.want) {
			t.Errorf("Parse(%.50q): %q, want it to contain %q", tt.in, msg, tt.want)
		}
		if !errkind.Is(err, errkind.Usage) {
			t.Errorf("Parse(%.50q): kind %v, want usage", tt.in, errkind.KindOf(err))
		}
		if strings.Contains(msg, wk[:10]) || strings.Contains(msg, key[:10]) {
			t.Errorf("Parse(%.50q): error leaks key material: %q", tt.in, msg)
		}
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		in, cap, path, err string
	}{
		{in: sskR, cap: sskR},
		{in: sskR + "/", cap: sskR},
		{in: sskR + "/sub/dir/café ☕.txt", cap: sskR, path: "sub|dir|café ☕.txt"},
		{in: sskR + "/sub/dir/", cap: sskR, path: "sub|dir"},
		{in: sskR + "/a//b", err: "path element 2 is empty"},
		{in: sskR + "//", err: "path element 1 is empty"},
		{in: "/a", err: "no cap before the path"},
		{in: sskR + "/\xff", err: "not valid UTF-8"},
	}
	for _, tt := range tests {
		c, p, err := SplitPath(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errkind.Is(err, errkind.Usage) {
				t.Errorf("SplitPath(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || c != tt.cap || strings.Join(p, "|") != tt.path {
			t.Errorf("SplitPath(%q) = %q, %q, %v", tt.in, c, p, err)
		}
	}
}

func TestStorageIndexText(t *testing.T) {
	const s = "dqrkoatek6jcaq4mqnlomig4wq"
	si, err := ParseSI(s)
	if err != nil || len(si) != SILen || FormatSI(si) != s {
		t.Fatalf("ParseSI(%q) = %x, %v", s, si, err)
	}
	if !bytes.Equal(si, mustParse(t, sskW).StorageIndex()) {
		t.Error("storage index differs from the one derived from the write cap")
	}
	for _, bad := range []string{"", s[:25], s + "a", strings.ToUpper(s), s[:25] + "r"} {
		if _, err := ParseSI(bad); !errkind.Is(err, errkind.Usage) {
			t.Errorf("ParseSI(%q) error %v, want usage", bad, err)
		}
	}
}

// TestDerivationsDoNotAlias checks derived caps do not share state that
// would let a read cap reveal or change its write cap.
func TestDerivationsDoNotAlias(t *testing.T) {
	w := mustParse(t, sskW).(*Mutable)
	r := w.ReadOnly().(*Mutable)
	if r.Writekey != nil || r.Access != Read {
		t.Errorf("read cap keeps the writekey: %#v", r)
	}
	v := mustParse(t, chkR).Verifier().(*CHK)
	if v.Key != nil {
		t.Error("CHK verify cap keeps the read key")
	}
	if w.String() != sskW {
		t.Error("deriving changed the write cap")
	}
}

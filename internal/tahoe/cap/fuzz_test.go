package cap

import (
	"strings"
	"testing"
)

// FuzzParse checks Parse never panics, and that whatever parses prints
// back exactly, except for the documented canonical rewrites (alleged
// prefix dropped, MDMF extensions dropped, leading zeros dropped), and
// that the printed form is a fixed point with working derivations.
func FuzzParse(f *testing.F) {
	for _, s := range []string{sskW, sskR, sskV, mdmfW, mdmfR, mdmfV, chkR, chkV, litR,
		"URI:LIT:", "URI:DIR2-LIT:oruw46ik", "ro." + sskR, "imm." + chkR, mdmfV + ":future",
		strings.Replace(chkR, ":3:5:", ":03:5:", 1), "URI:FOO:x", "URI:CHK:a:b:1:2:3"} {
		f.Add(s)
	}
	f.Add(strings.Replace(sskW, "URI:SSK:", "URI:DIR2:", 1))
	f.Add(strings.Replace(chkV, "URI:CHK-", "URI:DIR2-CHK-", 1))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned both a cap and %v", err)
			}
			return
		}
		out := c.String()
		if !rewritesToCanonical(s, c) && out != s {
			t.Fatalf("Parse(%q).String() = %q", s, out)
		}
		again, err := Parse(out)
		if err != nil || again.String() != out || again.Kind() != c.Kind() {
			t.Fatalf("printed form %q does not parse back: %v", out, err)
		}
		checkDerived(t, c.ReadOnly())
		checkDerived(t, c.Verifier())
		checkDerived(t, WithDir(c, !c.IsDir()))
		_ = Abbrev(c)
	})
}

// rewritesToCanonical reports whether s uses one of the accepted forms
// that String does not reproduce.
func rewritesToCanonical(s string, c Cap) bool {
	if strings.HasPrefix(s, ReadOnlyPrefix) || strings.HasPrefix(s, ImmutablePrefix) {
		return true
	}
	if m, ok := c.(*Mutable); ok && m.FileFormat == MDMF {
		return strings.Count(s, ":") > 3
	}
	if _, ok := c.(*CHK); ok {
		for _, n := range strings.Split(s, ":")[4:] {
			if len(n) > 1 && n[0] == '0' {
				return true
			}
		}
	}
	return false
}

// checkDerived checks a derived cap (or nil) prints text Parse accepts.
func checkDerived(t *testing.T, c Cap) {
	t.Helper()
	if c == nil {
		return
	}
	s := c.String()
	if again, err := Parse(s); err != nil || again.String() != s {
		t.Fatalf("derived cap %q does not round trip: %v", s, err)
	}
}

// FuzzSplitPath checks SplitPath never panics and that the pieces it
// returns join back to the argument (less one trailing slash).
func FuzzSplitPath(f *testing.F) {
	f.Add(sskR + "/sub/dir/café ☕.txt")
	f.Add(sskR + "/")
	f.Add(sskR + "/a//b")
	f.Add("/x")
	f.Fuzz(func(t *testing.T, arg string) {
		c, path, err := SplitPath(arg)
		if err != nil {
			return
		}
		if strings.Contains(c, "/") || c == "" {
			t.Fatalf("cap part %q", c)
		}
		joined := strings.Join(append([]string{c}, path...), "/")
		if joined != arg && joined+"/" != arg {
			t.Fatalf("SplitPath(%q) = %q, %q", arg, c, path)
		}
		for _, p := range path {
			if p == "" || strings.Contains(p, "/") {
				t.Fatalf("bad path element %q", p)
			}
		}
	})
}

// FuzzParseSI checks ParseSI never panics and accepts only the canonical
// 26-character form.
func FuzzParseSI(f *testing.F) {
	f.Add("dqrkoatek6jcaq4mqnlomig4wq")
	f.Add("dqrkoatek6jcaq4mqnlomig4wr")
	f.Fuzz(func(t *testing.T, s string) {
		si, err := ParseSI(s)
		if err != nil {
			return
		}
		if len(si) != SILen || FormatSI(si) != s {
			t.Fatalf("ParseSI(%q) = %x", s, si)
		}
	})
}

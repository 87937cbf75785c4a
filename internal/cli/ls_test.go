package cli

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func TestLsRealGrid(t *testing.T) {
	g := testgrid.RealGrid(t)
	for _, d := range testutil.GridObjects(t) {
		if d.Kind != "dirnode" {
			continue
		}
		var want []string
		for name := range d.Children {
			want = append(want, name)
		}
		sort.Strings(want)
		code, out, errOut := run(t, gridArgs(t, g, "ls", d.Cap)...)
		if code != ExitOK || out != strings.Join(want, "\n")+"\n" {
			t.Errorf("ls %s: exit %d %s\n%q, want %q", d.Name, code, errOut, out, want)
		}
		for _, writecaps := range []bool{false, true} {
			args := []string{"ls", "--json", d.Cap}
			if writecaps {
				args = append(args, "--show-writecaps")
			}
			code, out, _ = run(t, gridArgs(t, g, args...)...)
			var entries []lsEntry
			if err := json.Unmarshal([]byte(out), &entries); code != ExitOK || err != nil || len(entries) != len(want) {
				t.Fatalf("ls --json %s: %d %v\n%s", d.Name, code, err, out)
			}
			for _, e := range entries {
				ch := d.Children[e.Name]
				if e.Cap != deref(ch.ROURI) || writecaps && e.RWCap != deref(ch.RWURI) || !writecaps && e.RWCap != "" {
					t.Errorf("%s/%s: cap %s rw %s, want ro %s rw %s", d.Name, e.Name, e.Cap, e.RWCap, deref(ch.ROURI), deref(ch.RWURI))
				}
			}
		}
	}
}

func TestLsRecursiveLongAndPath(t *testing.T) {
	g := testgrid.RealGrid(t)
	d := gridObjectNamed(t, "dir-sdmf")
	code, out, errOut := run(t, gridArgs(t, g, "ls", "-R", "-l", d.Readcap)...)
	if code != ExitOK || !strings.Contains(out, "sub:\n") || !strings.Contains(out, "inner.txt") ||
		!strings.Contains(out, "café ☕.txt") || !strings.Contains(out, "307200") || strings.Contains(out, "URI:SSK:") {
		t.Fatalf("exit %d %s\n%s", code, errOut, out)
	}
	code, out, _ = run(t, gridArgs(t, g, "ls", d.Cap+"/sub")...)
	if code != ExitOK || out != "inner.txt\n" {
		t.Fatalf("ls DIR/sub: %d %q", code, out)
	}
	code, _, errOut = run(t, gridArgs(t, g, "ls", d.Cap+"/notes.txt")...)
	if code != ExitUsage || !strings.Contains(errOut, "not a directory") {
		t.Fatalf("ls of a file: %d %q", code, errOut)
	}
}

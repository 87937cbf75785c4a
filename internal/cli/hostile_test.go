package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// hostileNetstring writes one netstring.
func hostileNetstring(s string) string { return strconv.Itoa(len(s)) + ":" + s + "," }

// hostileEntry writes a directory entry from raw fields, as any holder
// of the directory's write cap can.
func hostileEntry(name, ro, sealed, md string) string {
	return hostileNetstring(hostileNetstring(name) + hostileNetstring(ro) + hostileNetstring(sealed) + hostileNetstring(md))
}

// hostileEntries are one entry of each kind that cannot be used.
var hostileEntries = map[string]string{
	"not UTF-8":       hostileEntry("\xff\xfebad", "URI:LIT:nbswy3dp", "", "{}"),
	"empty name":      hostileEntry("", "URI:LIT:nbswy3dp", "", "{}"),
	"slash":           hostileEntry("../escape", "URI:LIT:nbswy3dp", "", "{}"),
	"dot-dot":         hostileEntry("..", "URI:LIT:nbswy3dp", "", "{}"),
	"control":         hostileEntry("ctl\x1b[2J", "URI:LIT:nbswy3dp", "", "{}"),
	"bad cap":         hostileEntry("badcap", "URI:CHK:not-a-cap", "", "{}"),
	"bad metadata":    hostileEntry("badmd", "URI:LIT:nbswy3dp", "", "[1]"),
	"not four fields": hostileNetstring(hostileNetstring("short") + hostileNetstring("x")),
}

// writerHostile cannot be used with the directory's write cap: its sealed
// write cap is too short to open. Readers with a read cap never open it,
// and to them it is a good entry.
var writerHostile = hostileEntry("sealed", "URI:LIT:nbswy3dp", "tooshort", "{}")

// allHostile are the raw entries hostileDir adds.
func allHostile() map[string]string {
	all := map[string]string{"sealed cap short": writerHostile}
	for k, v := range hostileEntries {
		all[k] = v
	}
	return all
}

// hostileDir makes a directory with two good files through the CLI, then
// adds every hostile entry to it with the project's own publish code.
func hostileDir(t *testing.T) (g *testgrid.Grid, gridFile, dir string, pub *publish.Publisher) {
	writeEnv(t)
	g = testgrid.New(t, 3)
	gridFile = g.WriteServersYAML(t.TempDir())
	code, out, errOut := run(t, "mkdir", "--grid", gridFile)
	if code != ExitOK {
		t.Fatalf("mkdir: %s", errOut)
	}
	dir = strings.TrimSpace(out)
	for name, data := range map[string]string{"good.txt": "hello", "other.txt": "other"} {
		if code, _, errOut := runIn(t, []byte(data), "put", "--grid", gridFile, "-", dir+"/"+name); code != ExitOK {
			t.Fatalf("put %s: %s", name, errOut)
		}
	}
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	pub = &publish.Publisher{Grid: g.Grid(), Dial: cl.Dial, Happy: 1}
	_, err := pub.Modify(context.Background(), cap.MustParse(dir).(*cap.Mutable), func(old []byte) ([]byte, error) {
		out := append([]byte{}, old...)
		for _, e := range allHostile() {
			out = append(out, e...)
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, gridFile, dir, pub
}

// rawContents reads the directory's plaintext as stored.
func rawContents(t *testing.T, pub *publish.Publisher, dir string) []byte {
	t.Helper()
	b, _, _, err := pub.Get(context.Background(), cap.MustParse(dir).(*cap.Mutable))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkWarnings checks that stderr warns about each hostile entry once,
// naming it safely; writer says whether the directory was read with its
// write cap.
func checkWarnings(t *testing.T, what, stderr string, writer bool) {
	t.Helper()
	want := len(hostileEntries)
	if writer {
		want++
		if !strings.Contains(stderr, `"sealed" at byte`) || !strings.Contains(stderr, "shorter than salt") {
			t.Errorf("%s: no warning about the sealed write cap:\n%s", what, stderr)
		}
	}
	if n := strings.Count(stderr, "warning: .: skipped entry"); n != want {
		t.Errorf("%s: %d warnings, want %d:\n%s", what, n, want, stderr)
	}
	if strings.Contains(stderr, "\x1b") || strings.Contains(stderr, "\xff") {
		t.Errorf("%s: a hostile name reached stderr raw: %q", what, stderr)
	}
	for _, want := range []string{`"\xff\xfebad"`, "not valid UTF-8", "name is empty", `"ctl\x1b[2J"`, "control character", "'/'", `"badcap"`, "read cap", "not a JSON object", "not four fields"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("%s: no %q in the warnings:\n%s", what, want, stderr)
		}
	}
}

// TestHostileEntriesRead: ls lists the good entries and warns about each
// unusable one, with a write cap and a read cap; cat reads a good entry
// past them and says why a hostile one cannot be read.
func TestHostileEntriesRead(t *testing.T) {
	_, gridFile, dir, _ := hostileDir(t)
	ro := cap.MustParse(dir).ReadOnly().String()
	for target, want := range map[string]string{dir: "good.txt\nother.txt\n", ro: "good.txt\nother.txt\nsealed\n"} {
		code, out, errOut := run(t, "ls", "--grid", gridFile, target)
		if code != ExitOK || out != want {
			t.Fatalf("ls: exit %d, %q, %s", code, out, errOut)
		}
		checkWarnings(t, "ls", errOut, target == dir)
	}
	code, out, errOut := run(t, "ls", "--json", "--grid", gridFile, dir)
	if code != ExitOK || !strings.Contains(out, `"name": "good.txt"`) || strings.Contains(out, "badcap") {
		t.Fatalf("ls --json: exit %d, %s, %s", code, out, errOut)
	}
	code, out, errOut = run(t, "cat", "--grid", gridFile, dir+"/good.txt")
	if code != ExitOK || out != "hello" {
		t.Fatalf("cat good.txt: exit %d, %q, %s", code, out, errOut)
	}
	checkWarnings(t, "cat", errOut, true)
	code, _, errOut = run(t, "cat", "--grid", gridFile, dir+"/badcap")
	if code == ExitOK || !strings.Contains(errOut, `entry "badcap" in the directory cannot be used: read cap`) {
		t.Fatalf("cat badcap: exit %d, %s", code, errOut)
	}
}

// TestHostileEntriesSync: sync --once mirrors the good entries (sync
// reads through the read cap, to which the sealed-cap entry is good).
func TestHostileEntriesSync(t *testing.T) {
	_, gridFile, dir, _ := hostileDir(t)
	local := filepath.Join(t.TempDir(), "mirror")
	code, out, errOut := run(t, "sync", "--once", "--grid", gridFile, dir, local)
	if code != ExitOK {
		t.Fatalf("sync --once: exit %d, %s %s", code, out, errOut)
	}
	for name, want := range map[string]string{"good.txt": "hello", "other.txt": "other", "sealed": "hello"} {
		if b, err := os.ReadFile(filepath.Join(local, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
	ents, err := os.ReadDir(local)
	if err != nil || len(ents) != 4 { // the three files and the state directory
		t.Errorf("mirror holds %v (%v)", ents, err)
	}
	if n := strings.Count(out+errOut, "skipped entry"); n < len(hostileEntries) {
		t.Errorf("%d warnings about skipped entries, want %d:\n%s\n%s", n, len(hostileEntries), out, errOut)
	}
}

// TestHostileEntriesEdit: put into the directory and rm of another entry
// succeed, and every hostile entry is still there byte for byte; rm of a
// hostile entry's name removes that one only.
func TestHostileEntriesEdit(t *testing.T) {
	_, gridFile, dir, pub := hostileDir(t)
	if code, _, errOut := runIn(t, []byte("new"), "put", "--grid", gridFile, "-", dir+"/new.txt"); code != ExitOK {
		t.Fatalf("put: %s", errOut)
	}
	if code, _, errOut := run(t, "rm", "--grid", gridFile, dir+"/other.txt"); code != ExitOK {
		t.Fatalf("rm: %s", errOut)
	}
	raw := rawContents(t, pub, dir)
	for kind, e := range allHostile() {
		if !bytes.Contains(raw, []byte(e)) {
			t.Errorf("the %s entry was not kept byte for byte", kind)
		}
	}
	code, out, errOut := run(t, "ls", "--grid", gridFile, dir)
	if code != ExitOK || out != "good.txt\nnew.txt\n" {
		t.Fatalf("ls after edits: exit %d, %q, %s", code, out, errOut)
	}
	mustCat(t, gridFile, dir+"/new.txt", []byte("new"))

	if code, _, errOut := run(t, "rm", "--grid", gridFile, dir+"/badcap"); code != ExitOK {
		t.Fatalf("rm badcap: %s", errOut)
	}
	raw = rawContents(t, pub, dir)
	for kind, e := range allHostile() {
		if kept := bytes.Contains(raw, []byte(e)); kept != (kind != "bad cap") {
			t.Errorf("after rm badcap, %s entry kept: %v", kind, kept)
		}
	}
}

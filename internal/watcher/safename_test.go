package watcher

import (
	"strconv"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

func TestSafeName(t *testing.T) {
	for name, want := range map[string]bool{
		"a.txt": true, "café ☕.txt": true, "..x": true,
		"": false, ".": false, "..": false, "a/b": false, "../x": false,
		"a\\b": false, "nul\x00": false, "tab\t": false, "del\x7f": false,
	} {
		if got := safeName(name); got != want {
			t.Errorf("safeName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestParseDirSkipsUnsafeNames builds raw directory contents (Pack refuses
// such names) and checks hostile entries never become children.
func TestParseDirSkipsUnsafeNames(t *testing.T) {
	var raw []byte
	for _, name := range []string{"../x", "ok.txt", ".."} {
		entry := append(netstring([]byte(name)), netstring([]byte("URI:LIT:"))...)
		entry = append(entry, netstring(nil)...)
		entry = append(entry, netstring([]byte("{}"))...)
		raw = append(raw, netstring(entry)...)
	}
	if _, err := dirnode.Parse(raw, nil); err != nil {
		t.Fatalf("test contents do not parse: %v", err)
	}
	kids, unsafe, err := parseDir(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 1 || kids["ok.txt"] != "URI:LIT:" || len(unsafe) != 2 {
		t.Fatalf("kids %v, unsafe %q", kids, unsafe)
	}
}

func netstring(b []byte) []byte {
	return append(append([]byte(strconv.Itoa(len(b))+":"), b...), ',')
}

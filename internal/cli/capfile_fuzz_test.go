package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// FuzzCapFile reads arbitrary bytes as a --cap-file (a user file that
// holds write caps): no panic; every target it yields parses and is a
// trimmed line of the file; an error never echoes the file's contents
// (a cap almost right is still a secret) nor shows a write key.
func FuzzCapFile(f *testing.F) {
	vs := testutil.CapVectors(f)
	for _, v := range []testutil.CapVector{vs[0], vs[1], vs[len(vs)-1]} {
		f.Add([]byte("# mine\n  " + v.Expected + "/a/b  \n\n" + v.Expected + "\n"))
		f.Add([]byte(v.Expected[:len(v.Expected)-2] + "\n"))
		f.Add([]byte(v.Expected + "/../x\n"))
	}
	f.Add([]byte("\xff\xfe\r\n#\x00\n"))
	f.Add([]byte(strings.Repeat("a", maxCapLine+1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "caps")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		targets, err := readCapList(file)
		if err != nil {
			msg := strings.ReplaceAll(err.Error(), file, "FILE")
			if cap.Scrub(msg) != msg {
				t.Fatalf("error shows a write key: %s", msg)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if l := strings.TrimSpace(line); len(l) >= 12 && strings.Contains(msg, l) {
					t.Fatalf("error echoes a line of the file: %s", msg)
				}
			}
			return
		}
		lines := map[string]bool{}
		for _, line := range strings.Split(string(data), "\n") {
			lines[strings.TrimSpace(line)] = true
		}
		for _, tg := range targets {
			if _, _, err := parseTarget(tg); err != nil || !lines[tg] {
				t.Fatalf("target %q: not a trimmed line of the file, or %v", tg, err)
			}
		}
	})
}

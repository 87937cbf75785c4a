package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// writeKey returns the base32 writekey of a write cap's text: what must
// never be printed.
func writeKey(t *testing.T, s string) string {
	t.Helper()
	m, ok := cap.MustParse(strings.TrimSpace(s)).(*cap.Mutable)
	if !ok || m.IsReadOnly() {
		t.Fatalf("%s is not a write cap", cap.Abbrev(cap.MustParse(s)))
	}
	return base32.Encode(m.Writekey)
}

// leakTree makes a write dircap D holding a file f, a mutable file m and
// a directory sub, and returns D, m's write cap and the write keys.
func leakTree(t *testing.T, grid string) (dir, mut string, keys []string) {
	t.Helper()
	code, dir, errOut := run(t, "mkdir", "--grid", grid)
	if code != ExitOK {
		t.Fatalf("mkdir: %s", errOut)
	}
	dir = strings.TrimSpace(dir)
	if code, _, errOut := runIn(t, []byte("file"), "put", "--grid", grid, "-", dir+"/f"); code != ExitOK {
		t.Fatalf("put: %s", errOut)
	}
	code, mut, errOut = runIn(t, []byte("mutable"), "put", "--grid", grid, "--mutable", "-", dir+"/m")
	if code != ExitOK {
		t.Fatalf("put --mutable: %s", errOut)
	}
	mut = strings.TrimSpace(mut)
	code, sub, errOut := run(t, "mkdir", "--grid", grid, dir+"/sub")
	if code != ExitOK {
		t.Fatalf("mkdir sub: %s", errOut)
	}
	return dir, mut, []string{writeKey(t, dir), writeKey(t, mut), writeKey(t, sub)}
}

// TestNoCommandLeaksAWriteCap drives the error paths of every command
// that takes a cap with write caps — wrong kind, missing children, paths
// through files, read-only operations, an unreachable grid, -v and
// --debug — and fails if any output shows a write key.
func TestNoCommandLeaksAWriteCap(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 3)
	grid := g.WriteServersYAML(t.TempDir())
	D, M, keys := leakTree(t, grid)
	down := testgrid.New(t, 2)
	dead := down.WriteServersYAML(t.TempDir())
	for _, s := range down.Servers {
		s.Stop()
	}
	capFile := filepath.Join(t.TempDir(), "cap")
	if err := os.WriteFile(capFile, []byte("# the directory\n"+D+"/nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.WriteFile(shared, []byte(D+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o644)
	mangled := "URI:DIR2:" + keys[0] + "x:" + strings.Repeat("a", 52)
	quick := []string{"--timeout", "2s"}
	cases := [][]string{
		{"cat", "--grid", grid, D},
		{"cat", "--grid", grid, "--debug", D + "/nope"},
		{"cat", "--grid", grid, D + "/f/x"},
		{"cat", "--grid", grid, M + "/x"},
		{"cat", "--grid", grid, "--cap-file", capFile},
		{"cat", "--grid", grid, "--cap-file", shared},
		{"cat", "--grid", grid, mangled},
		{"cat", "--grid", grid, D + "//x"},
		{"cat", "--grid", dead, "--debug", M},
		{"ls", "--grid", grid, M},
		{"ls", "--grid", grid, "-l", D + "/nope"},
		{"ls", "--grid", grid, D + "/f"},
		{"ls", "--grid", dead, D},
		{"ls", "--grid", grid, "--cap-file", capFile},
		{"status", "--grid", grid, D + "/nope"},
		{"status", "--grid", dead, "--debug", M},
		{"status", "--grid", grid, "--json", D + "/m/x"},
		{"put", "--grid", grid, D, "-"},
		{"put", "--grid", grid, "-", D + "/f/x"},
		{"put", "--grid", grid, "-", M + "/x"},
		{"put", "--grid", dead, M, "-"},
		{"put", "--grid", grid, "--private-key", "/no/such/key", "--mutable", "-", D + "/k"},
		{"put", "--grid", grid, "--cap-file", shared, "-"},
		{"rm", "--grid", grid, D + "/nope"},
		{"rm", "--grid", grid, D},
		{"rm", "--grid", grid, M + "/x"},
		{"rm", "--grid", dead, D + "/f"},
		{"mkdir", "--grid", grid, D + "/nope/x"},
		{"mkdir", "--grid", grid, D + "/f"},
		{"mkdir", "--grid", grid, M + "/x"},
		{"mkdir", "--grid", dead, D + "/new"},
		{"--grid", grid, "--once", D + "/nope"},
		{"--grid", grid, "--once", "-v", D + "/f/x"},
		{"--grid", grid, "--once", D, mangled},
		{"--grid", grid, "--once", "--cap-file", shared},
		{"--grid", "/no/such/grid.yaml", "--once", D},
		{"stauts", D},
		{D, "--no-such-flag"},
	}
	for _, args := range cases {
		if args[0] == "cat" || args[0] == "ls" || args[0] == "status" {
			args = append(args, quick...)
		}
		code, out, errOut := runIn(t, []byte("x"), args...)
		if code == ExitOK {
			t.Errorf("%s: exit 0, want an error", shown(args))
		}
		for _, k := range keys {
			if strings.Contains(out+errOut, k) {
				t.Errorf("%s: output shows a write key:\nstdout %q\nstderr %q", shown(args), out, errOut)
			}
		}
	}
	// The success paths show read caps only (unless --show-writecaps).
	for _, args := range [][]string{
		{"ls", "-l", "-R", "--grid", grid, D},
		{"ls", "--json", "-R", "--grid", grid, D},
		{"status", "--grid", grid, "--debug", D + "/m"},
		{"status", "--json", "--grid", grid, D},
		{"cat", "--grid", grid, "--debug", D + "/m"},
		{"mkdir", "-p", "--grid", grid, D + "/sub"},
	} {
		code, out, errOut := run(t, args...)
		if code != ExitOK {
			t.Errorf("%s: exit %d: %s", shown(args), code, cap.Scrub(errOut))
		}
		for _, k := range keys {
			if strings.Contains(out+errOut, k) {
				t.Errorf("%s: output shows a write key:\n%s%s", shown(args), cap.Scrub(out), cap.Scrub(errOut))
			}
		}
	}
	// The watcher on an unreachable grid retries and logs; -v logs every
	// retry. It must not log the write cap either.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errOut lockedBuffer
	Run(ctx, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, []string{"--grid", dead, "-v", "--poll", "1s", M, D})
	for _, k := range keys {
		if strings.Contains(out.String()+errOut.String(), k) {
			t.Errorf("watcher on a dead grid logs a write key:\n%s", errOut.String())
		}
	}
	if !strings.Contains(errOut.String(), "level=DEBUG") {
		t.Errorf("watcher -v logged no debug lines, so the check proves little:\n%s", errOut.String())
	}
}

// shown is a command line for a test message, with write caps scrubbed
// (test logs are output too).
func shown(args []string) string { return cap.Scrub(strings.Join(args, " ")) }

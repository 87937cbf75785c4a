package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodesProcess checks every exit code docs/events.md documents,
// with real processes: 0 for --once satisfied; the hook's status for
// --once with a failing hook (127 for a command not found, at start when
// it is not a shell command line); 1 for a path that does not resolve; 2
// for usage, a grid file that cannot be loaded and a cap that cannot be
// watched.
func TestExitCodesProcess(t *testing.T) {
	g, pub, c := watchGrid(t)
	ro := c.ReadOnly().String()
	code, dir, errOut := run(t, append([]string{"mkdir"}, g.ServerFlags()...)...)
	if code != ExitOK {
		t.Fatalf("mkdir: %s", errOut)
	}
	dir = strings.TrimSpace(dir)
	seq := uint64(1)
	notExec := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExec, []byte("echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	change := func() {
		seq++
		if _, err := pub.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte{byte(seq)}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		args   []string
		change bool
		want   int
		stderr string
	}{
		{"once", []string{"--once", ro}, true, 0, ""},
		{"hook ok", []string{"--once", "--exec", "true", ro}, true, 0, ""},
		{"hook fails", []string{"--once", "--exec", "exit 3", ro}, true, 3, "exit status 3"},
		{"shell command not found", []string{"--once", "--exec", "no-such-command-tw -x", ro}, false, 127, "command not found"},
		{"shell command not found when run", []string{"--once", "--exec", "X=1 no-such-command-tw", ro}, true, 127, "tahoe-watch: the command's last run failed with exit status 127 (command not found)\n"},
		{"command not found", []string{"--once", ro, "--", "no-such-command-tw"}, false, 127, "command not found"},
		{"not executable", []string{"--once", ro, "--", notExec}, false, 126, "cannot be run"},
		{"hook timeout", []string{"--once", "--hook-timeout", "200ms", "--exec", "sleep 5", ro}, true, 124, "exit status 124"},
		{"hook killed", []string{"--once", "--exec", "kill -9 $$", ro}, true, 137, "exit status 137"},
		{"missing entry", []string{"--once", dir + "/nope"}, false, 1, `no entry "nope"`},
		{"path through a file", []string{"--once", ro + "/x"}, false, 2, "not a directory"},
		{"grid file", []string{"--once", "--grid", filepath.Join(t.TempDir(), "none.yaml"), ro}, false, 2, "none.yaml"},
		{"immutable cap", []string{"--once", "URI:LIT:nbswy3dp"}, false, 2, "only mutable"},
		{"bad flag", []string{"--once", "--poll", "0", ro}, false, 2, "--poll"},
	} {
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "--grid") {
			args = append(append([]string{}, g.ServerFlags()...), args...)
		}
		p := startProc(t, nil, args...)
		if tc.change {
			p.waitFor(t, "watching", func(_, e string) bool { return strings.Contains(e, "msg=watching") })
			change()
		}
		if got := p.wait(t); got != tc.want || !strings.Contains(p.errOut.String(), tc.stderr) || strings.Contains(p.errOut.String(), "<nil>") {
			t.Errorf("%s: exit %d, want %d with %q; stderr:\n%s", tc.name, got, tc.want, tc.stderr, p.errOut.String())
		}
	}
}

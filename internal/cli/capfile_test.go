package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// writeCapFile writes text to a file of the given mode (past the umask).
func writeCapFile(t testing.TB, text string, mode os.FileMode) string {
	p := filepath.Join(t.TempDir(), "caps")
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// manyCaps returns n distinct write caps, one per line, with comments.
func manyCaps(n int) (string, []string) {
	var b strings.Builder
	var caps []string
	b.WriteString("# many caps\n\n")
	for i := range n {
		wk := make([]byte, cap.KeyLen)
		copy(wk, fmt.Sprintf("%016d", i))
		c := cap.NewMutableFromKeys(cap.SDMF, i%2 == 0, wk, make([]byte, cap.FingerprintLen)).String()
		caps = append(caps, c)
		fmt.Fprintf(&b, "  %s\n", c)
		if i%1000 == 0 {
			b.WriteString("# a comment\n")
		}
	}
	return b.String(), caps
}

func TestReadCapList(t *testing.T) {
	text, caps := manyCaps(100_000)
	got, err := readCapList(writeCapFile(t, text, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(caps) || got[0] != caps[0] || got[len(got)-1] != caps[len(caps)-1] {
		t.Fatalf("read %d caps, want %d", len(got), len(caps))
	}
	ro := cap.MustParse(caps[0]).ReadOnly().String()
	for _, c := range []struct {
		text string
		mode os.FileMode
		want string // in the error; "" for success
	}{
		{caps[0] + "\n", 0o644, "chmod 600"},
		{ro + "\n" + caps[1] + "/sub/x\n", 0o640, "chmod 600"},
		{ro + "\n" + ro + "/sub\n", 0o644, ""},
		{"# only a comment\n", 0o600, "holds 0 caps"},
		{ro + "\nURI:SSK:" + caps[0][8:20] + "\n", 0o600, ":2: not a CAP"},
		{strings.Repeat("x", maxCapLine+1), 0o600, "longer than"},
	} {
		_, err := readCapFile(writeCapFile(t, c.text, c.mode))
		if c.want == "" && strings.Count(c.text, "\n") > 1 {
			_, err = readCapList(writeCapFile(t, c.text, c.mode))
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.text, err)
		case c.want != "" && (!errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%.40q: %v, want a usage error saying %q", c.text, err, c.want)
		case err != nil && (strings.Contains(err.Error(), caps[0][8:20]) || strings.Contains(err.Error(), "(usage)")):
			t.Errorf("the error echoes the file: %v", err)
		}
	}
	if _, err := readCapFile(filepath.Join(t.TempDir(), "missing")); !errkind.Is(err, errkind.Usage) {
		t.Errorf("missing file: %v", err)
	}
}

func BenchmarkReadCapList100k(b *testing.B) {
	text, _ := manyCaps(100_000)
	p := writeCapFile(b, text, 0o600)
	for b.Loop() {
		if _, err := readCapList(p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSingleTargetCapFile: put, cat, ls, status, rm and mkdir take their
// target from --cap-file, in both of put's forms.
func TestSingleTargetCapFile(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 3)
	grid := g.WriteServersYAML(t.TempDir())
	D, M, _ := leakTree(t, grid)
	file := func(target string) string { return writeCapFile(t, target+"\n", 0o600) }
	steps := []struct {
		stdin string
		args  []string
		want  string // on stdout
	}{
		{"new", []string{"put", "--cap-file", file(M), "-"}, ""},
		{"", []string{"cat", "--cap-file", file(M)}, "new"},
		{"linked", []string{"put", "--cap-file", file(D + "/g")}, "URI:"},
		{"", []string{"cat", "--cap-file", file(D + "/g")}, "linked"},
		{"", []string{"mkdir", "--cap-file", file(D + "/d2")}, "URI:DIR2:"},
		{"", []string{"rm", "--cap-file", file(D + "/g")}, ""},
		{"", []string{"ls", "--cap-file", file(D)}, "d2\nf\nm\nsub\n"},
		{"", []string{"status", "--cap-file", file(D + "/m")}, "storage index"},
	}
	for _, s := range steps {
		code, out, errOut := runIn(t, []byte(s.stdin), append(s.args, "--grid", grid)...)
		if code != ExitOK || !strings.Contains(out, s.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %s", shown(s.args), code, out, cap.Scrub(errOut))
		}
	}
	// The target comes from the file or the command line, not both.
	if code, _, errOut := run(t, "cat", "--grid", grid, "--cap-file", file(M), M); code != ExitUsage || !strings.Contains(errOut, "from --cap-file") {
		t.Errorf("cat --cap-file with a CAP argument: exit %d, want 2 naming --cap-file; stderr %s", code, cap.Scrub(errOut))
	}
}

// TestWatchCapFileProcess runs the watcher as a real process on a cap
// file of write caps: it watches them, reports a change, and neither its
// command line nor its output shows a cap's key; a shared file holding a
// write cap is refused with exit 2.
func TestWatchCapFileProcess(t *testing.T) {
	g, pub, c := watchGrid(t)
	text := "# watched\n\n" + c.String() + "\n"
	shared := startProc(t, nil, append(g.ServerFlags(), "--cap-file", writeCapFile(t, text, 0o644))...)
	if code := shared.wait(t); code != ExitUsage || !strings.Contains(shared.errOut.String(), "chmod 600") {
		t.Errorf("shared cap file: exit %d, stderr %s", code, shared.errOut.String())
	}
	p := startProc(t, nil, append(g.ServerFlags(), "--json", "-v", "--cap-file", writeCapFile(t, text, 0o600))...)
	p.waitFor(t, "watching", func(_, e string) bool { return strings.Contains(e, "msg=watching") })
	key := writeKey(t, c.String())
	if cl := p.cmdline(t); strings.Contains(cl, "URI:") {
		t.Errorf("command line shows a cap: %s", cl)
	}
	if _, err := pub.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte("second"), nil }); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "event", func(o, _ string) bool { return strings.Contains(o, `"seqnum":2`) })
	if code := p.stop(t); code != ExitOK {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if all := p.out.String() + p.errOut.String(); strings.Contains(all, key) || !strings.Contains(all, c.ReadOnly().String()) {
		t.Errorf("output shows the write key, or not the read cap:\n%s", cap.Scrub(all))
	}
}

// TestPutCapFileProcess: put --cap-file as a real process keeps the write
// cap off its command line (read while put waits for stdin) and replaces
// the file.
func TestPutCapFileProcess(t *testing.T) {
	writeEnv(t)
	g := testgrid.New(t, 3)
	grid := g.WriteServersYAML(t.TempDir())
	_, M, _ := leakTree(t, grid)
	p := &proc{out: &lockedBuffer{}, errOut: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(testBinary(t), "put", "--grid", grid, "--cap-file", writeCapFile(t, M+"\n", 0o600), "-")
	p.cmd.Env = os.Environ()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errOut
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); p.code = p.cmd.ProcessState.ExitCode(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	if cl := p.cmdline(t); strings.Contains(cl, "URI:") || !strings.Contains(cl, "--cap-file") {
		t.Errorf("command line %q", cl)
	}
	stdin.Write([]byte("from a process"))
	stdin.Close()
	if code := p.wait(t); code != ExitOK {
		t.Fatalf("put: exit %d: %s", code, cap.Scrub(p.errOut.String()))
	}
	mustCat(t, grid, M, []byte("from a process"))
}

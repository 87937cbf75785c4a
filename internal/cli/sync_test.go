package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror/mirrortest"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
	"github.com/tahoe-watch/tahoe-watch/internal/upload"
)

// syncTree starts a pushing loopback grid holding a directory of n files
// of size bytes each (under two subdirectories) and returns the grid,
// the directory's read cap, the expected files and an editor of the tree.
func syncTree(t *testing.T, n, size int) (*demo.Grid, string, map[string][]byte, *syncEditor) {
	t.Helper()
	ctx := context.Background()
	dg, err := demo.StartGrid(ctx, t.TempDir(), demo.GridOptions{Servers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dg.Close)
	g := dg.Grid()
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	ed := &dirop.Editor{Pub: &publish.Publisher{Grid: g, Dial: cl.Dial}, New: publish.Params{Format: cap.SDMF, K: 2, N: 3}, NewKey: rsakey.Generate}
	up := &upload.Uploader{Grid: g, Dial: func(s *grid.ServerInfo) (upload.Storage, error) { return cl.Client(s) },
		Convergence: []byte("sixteen byte key"), K: 2, Happy: 2, N: 3}
	root, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range n {
		data := bytes.Repeat([]byte(fmt.Sprintf("%04d", i)), size/4)
		res, err := up.Upload(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("s%d/f%03d", i%2, i)
		if err := ed.Link(ctx, root, strings.Split(p, "/"), dirop.ChildOf(res.Cap), true, false); err != nil {
			t.Fatal(err)
		}
		want[p] = data
	}
	return dg, root.ReadOnly().String(), want, &syncEditor{ed: ed, up: up, root: root}
}

// syncEditor changes the tree syncTree made.
type syncEditor struct {
	ed   *dirop.Editor
	up   *upload.Uploader
	root *cap.Mutable
}

func (e *syncEditor) link(t *testing.T, p string, data []byte) {
	t.Helper()
	ctx := context.Background()
	res, err := e.up.Upload(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ed.Link(ctx, e.root, strings.Split(p, "/"), dirop.ChildOf(res.Cap), true, true); err != nil {
		t.Fatal(err)
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tahoe-watch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tahoe-watch/tahoe-watch/cmd/tahoe-watch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func journalLines(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, mirror.StateDir, "state.jsonl"))
	return bytes.Count(b, []byte("\n"))
}

func checkNoTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tahoe-watch-tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// TestSyncSurvivesSIGKILL kills "tahoe-watch sync" in the middle of its
// first mirror, then runs it again: no partial or temporary file is
// left, the mirror completes and the files finished before the kill are
// not downloaded again.
func TestSyncSurvivesSIGKILL(t *testing.T) {
	bin := buildBinary(t)
	const files = 40
	dg, root, want, _ := syncTree(t, files, 256<<10)
	dir := filepath.Join(t.TempDir(), "mirror")
	args := append([]string{"sync", "--once", "--json", "--parallel", "1"}, dg.ServerFlags()...)
	args = append(args, root, dir)

	cmd := exec.Command(bin, args...)
	cmd.Stderr = &bytes.Buffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for journalLines(dir) < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	before := journalLines(dir)
	if before >= files {
		t.Fatalf("the first run finished (%d files) before it was killed", before)
	}
	t.Logf("killed after %d of %d files", before, files)
	for p, data := range want { // no partial file at any final name
		if b, err := os.ReadFile(filepath.Join(dir, p)); err == nil && !bytes.Equal(b, data) {
			t.Errorf("after the kill %s holds %d bytes, not the whole file", p, len(b))
		}
	}

	cmd = exec.Command(bin, args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &bytes.Buffer{}
	if err := cmd.Run(); err != nil {
		t.Fatalf("second run: %v\n%s", err, cmd.Stderr)
	}
	var last mirror.ProgressEvent
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var p mirror.ProgressEvent
		if json.Unmarshal(sc.Bytes(), &p) == nil && p.Type == mirror.Progress {
			last = p
		}
	}
	if !last.Done || last.FilesDone != files || last.Skipped < int64(before) {
		t.Errorf("second run: %+v; want all %d files done, at least %d skipped", last, files, before)
	}
	for p, data := range want {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || !bytes.Equal(b, data) {
			t.Errorf("%s: %d bytes, %v", p, len(b), err)
		}
	}
	checkNoTemps(t, dir)
}

// TestSyncExitsCleanlyOnSIGTERM runs the live mirror as a process, stops
// it with SIGTERM mid-download and expects exit 0 and no temporary file.
func TestSyncExitsCleanlyOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	dg, root, _, _ := syncTree(t, 20, 256<<10)
	dir := filepath.Join(t.TempDir(), "mirror")
	args := append([]string{"sync", "--parallel", "2"}, dg.ServerFlags()...)
	cmd := exec.Command(bin, append(args, root, dir)...)
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for journalLines(dir) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, cmd.Stderr)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 20s after SIGTERM")
	}
	checkNoTemps(t, dir)
}

// TestSyncTwoWayUsage: two-way needs a directory write cap, and refuses
// --once, --delete=false and a bad --mode, --ignore or --log-level.
func TestSyncTwoWayUsage(t *testing.T) {
	dg, ro, _, ed := syncTree(t, 1, 100)
	rw := ed.root.String()
	for _, args := range [][]string{
		{"--mode", "two-way", ro},
		{"--mode", "sideways", rw},
		{"--mode", "two-way", "--once", rw},
		{"--mode", "upload", ro},
		{"--mode", "two-way", "--delete=false", rw},
		{"--mode", "two-way", "--ignore", "[", rw},
		{"--log-level", "loud", ro},
	} {
		full := append(append([]string{"sync"}, dg.ServerFlags()...), append(args, t.TempDir())...)
		code, _, errOut := run(t, full...)
		if code != ExitUsage || strings.Contains(errOut, rw) || strings.Contains(errOut, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestSyncUsage(t *testing.T) {
	code, _, _ := run(t, "sync", "URI:LIT:oruw46ik")
	if code != ExitUsage {
		t.Errorf("one argument: exit %d", code)
	}
	code, _, errOut := run(t, "sync", "--server", "pb://x@tcp:127.0.0.1:1/y", "URI:LIT:oruw46ik", t.TempDir())
	if code == ExitOK {
		t.Errorf("a file cap: exit 0, stderr %q", errOut)
	}
	// A bad --progress is refused before anything runs (it used to start a live mirror).
	// So are --poll and --refresh below 1s, as for the watcher and tui.
	for _, bad := range [][]string{{"--progress", "bogus"}, {"--poll", "0"}, {"--refresh", "500ms"}, {"--quiet-period", "-1s"}, {"--quiet-period", "0"}} {
		code, _, errOut = run(t, append(append([]string{"sync"}, bad...), "--server", "pb://x@tcp:127.0.0.1:1/y", "URI:DIR2-RO:aaaa:bbbb", t.TempDir())...)
		if code != ExitUsage || !strings.Contains(errOut, bad[0]) {
			t.Errorf("sync %v: exit %d, stderr %q", bad, code, errOut)
		}
	}
	if code, _, errOut = run(t, "tui", "--poll", "0", "--server", "pb://x@tcp:127.0.0.1:1/y", "URI:DIR2-RO:aaaa:bbbb"); code != ExitUsage || !strings.Contains(errOut, "--poll") {
		t.Errorf("tui --poll 0: exit %d, stderr %q", code, errOut)
	}
}

// TestSyncTextLine: the text line shows a seqnum only for mutables, as
// the watcher's does (an immutable has none; "seq 0" said nothing).
func TestSyncTextLine(t *testing.T) {
	var b bytes.Buffer
	o := &syncOutput{w: &b}
	at := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	o.event(events.Event{Type: events.Added, Time: at, Path: "a.txt", Size: 9, Kind: "file"})
	o.event(events.Event{Type: events.Changed, Time: at, Path: "m.txt", Seqnum: 4, Size: 20, Kind: "file", Mutable: true})
	want := "22:00:00.000 added    a.txt 9 bytes\n22:00:00.000 changed  m.txt seq 4, 20 bytes\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// syncBuffer is a goroutine-safe stdout for an in-process run.
type syncBuffer = testutil.Buffer

// TestSyncJSONAndExec runs sync in process with --json and --exec: the
// first mirror reports progress, and a remote change two levels down is
// applied, printed as an event and passed to the command.
func TestSyncJSONAndExec(t *testing.T) {
	dg, root, _, ed := syncTree(t, 2, 1000)
	dir := filepath.Join(t.TempDir(), "mirror")
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	args := append([]string{"sync", "--json", "--exec", `echo "$TAHOE_WATCH_EVENT $TAHOE_WATCH_PATH" >> ` + hookLog}, dg.ServerFlags()...)
	args = append(args, root, dir)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, Streams{In: strings.NewReader(""), Out: out, Err: io.Discard}, args) }()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("exit %d", code)
		}
	}()
	waitUntil(t, "first mirror", func() bool { return strings.Contains(out.String(), `"done":true`) })

	ed.link(t, "s1/deeper/new.txt", []byte("new file"))
	local := filepath.Join(dir, "s1", "deeper", "new.txt")
	waitUntil(t, "the change applied", func() bool { b, _ := os.ReadFile(local); return string(b) == "new file" })
	waitUntil(t, "the event printed", func() bool { return strings.Contains(out.String(), `"path":"s1/deeper/new.txt"`) })
	waitUntil(t, "the command run", func() bool {
		b, _ := os.ReadFile(hookLog)
		return strings.Contains(string(b), "added s1/deeper/new.txt")
	})
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %q", line)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSyncProgressBar(t *testing.T) {
	var b bytes.Buffer
	bar := newProgressBar(&b, "always", false)
	bar.show(mirror.ProgressEvent{Files: 10, FilesDone: 4, Bytes: 10 << 20, BytesDone: 4 << 20, Rate: 2 << 20, ETASeconds: 3})
	bar.show(mirror.ProgressEvent{Files: 10, FilesDone: 10, Bytes: 10 << 20, BytesDone: 10 << 20, Rate: 2 << 20, Done: true})
	want := "\r\033[K4/10 files  4.0 MiB/10.0 MiB  2.0 MiB/s  ETA 3s" + "\r\033[K10/10 files  10.0 MiB/10.0 MiB  2.0 MiB/s  ETA 0s\n"
	if b.String() != want {
		t.Errorf("bar:\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	newProgressBar(&b, "auto", false).show(mirror.ProgressEvent{})
	if b.Len() != 0 {
		t.Errorf("auto drew on a buffer: %q", b.String())
	}
}

// TestSyncCapFile: --cap-file reads DIRCAP from a file instead of the
// command line; a write cap in a file others can read is refused without
// printing it, and the flag and a DIRCAP argument do not mix.
func TestSyncCapFile(t *testing.T) {
	dg, ro, want, ed := syncTree(t, 2, 100)
	rw := ed.root.String()
	capFile := func(text string, mode os.FileMode) string {
		p := filepath.Join(t.TempDir(), "dircap")
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	syncOnce := func(file string, rest ...string) (int, string, string) {
		args := append([]string{"sync", "--once", "--cap-file", file}, dg.ServerFlags()...)
		return run(t, append(args, rest...)...)
	}

	dir := t.TempDir()
	code, _, errOut := syncOnce(capFile("\n  "+rw+"\n", 0o644), dir)
	if code != ExitUsage || !strings.Contains(errOut, "chmod 600") || strings.Contains(errOut, rw) {
		t.Errorf("a shared write cap file: exit %d, stderr %q", code, errOut)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("mirrored %v from a refused cap file", ents)
	}
	if code, _, errOut = syncOnce(capFile("URI:DIR2:nonsense "+rw[10:], 0o600), dir); code != ExitUsage || strings.Contains(errOut, rw[10:]) {
		t.Errorf("a bad cap file: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ = syncOnce(capFile(ro, 0o644), ro, dir); code != ExitUsage {
		t.Errorf("--cap-file and DIRCAP: exit %d", code)
	}
	if code, _, _ = syncOnce(filepath.Join(t.TempDir(), "missing"), dir); code == ExitOK {
		t.Error("a missing cap file: exit 0")
	}

	for _, c := range []struct {
		text string
		mode os.FileMode
	}{{rw + "\n", 0o600}, {ro + "\n", 0o644}, {ro + "/s1", 0o600}} {
		dir := t.TempDir()
		if code, _, errOut := syncOnce(capFile(c.text, c.mode), dir); code != ExitOK {
			t.Fatalf("%04o file: exit %d, stderr %q", c.mode, code, errOut)
		}
		for p, data := range want {
			if sub, ok := strings.CutPrefix(c.text, ro+"/"); ok {
				if p, ok = strings.CutPrefix(p, sub+"/"); !ok {
					continue
				}
			}
			if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || !bytes.Equal(b, data) {
				t.Errorf("%04o file: %s not mirrored (%v)", c.mode, p, err)
			}
		}
	}
}

// device is one "tahoe-watch sync --mode two-way" process and its
// folder.
type device struct {
	t     *testing.T
	bin   string
	name  string
	dir   string
	args  []string
	env   []string
	cmd   *exec.Cmd
	out   *syncBuffer
	errs  *syncBuffer
	runs  int
	ready chan struct{}
}

// twoWayGrid starts a pushing loopback grid of n servers with an empty
// directory and writes its write cap to a 0600 file.
func twoWayGrid(t *testing.T, n int) (*demo.Grid, *cap.Mutable, string) {
	t.Helper()
	ctx := context.Background()
	dg, err := demo.StartGrid(ctx, t.TempDir(), demo.GridOptions{Servers: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dg.Close)
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	ed := &dirop.Editor{Pub: &publish.Publisher{Grid: dg.Grid(), Dial: cl.Dial}, New: publish.Params{Format: cap.SDMF, K: 2, N: n}, NewKey: rsakey.Generate}
	root, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	capFile := filepath.Join(t.TempDir(), "dircap")
	if err := os.WriteFile(capFile, []byte(root.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dg, root, capFile
}

// newDevice prepares a device with its own configuration directory (so
// its own convergence and lease secrets) and starts it.
func newDevice(t *testing.T, bin string, dg *demo.Grid, capFile, name string, extra ...string) *device {
	home := t.TempDir()
	d := &device{t: t, bin: bin, name: name, dir: filepath.Join(t.TempDir(), name),
		env: append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "TAHOE_WATCH_CONVERGENCE="),
		args: append(append([]string{"sync", "--mode", "two-way", "--json", "--device", name, "--quiet-period", "50ms",
			"--shares-needed", "2", "--shares-happy", "2", "--poll", "1s"}, dg.ServerFlags()...), extra...)}
	d.args = append(d.args, "--cap-file", capFile, d.dir)
	d.start()
	t.Cleanup(func() { d.kill() })
	return d
}

func (d *device) start() {
	d.t.Helper()
	if d.out == nil {
		d.out, d.errs = &syncBuffer{}, &syncBuffer{}
	}
	before := strings.Count(d.out.String(), `"done":true`)
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Env, d.cmd.Stdout, d.cmd.Stderr = d.env, d.out, d.errs
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.runs++
	waitUntil(d.t, d.name+" started", func() bool { return strings.Count(d.out.String(), `"done":true`) > before })
}

// stop ends the process with SIGTERM and expects exit 0.
func (d *device) stop() {
	d.t.Helper()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		d.t.Errorf("%s: exit %v\n%s", d.name, err, d.errs.String())
	}
	d.cmd = nil
}

// kill ends the process with SIGKILL.
func (d *device) kill() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Kill()
	d.cmd.Wait()
	d.cmd = nil
}

func (d *device) path(p string) string { return filepath.Join(d.dir, filepath.FromSlash(p)) }

func (d *device) write(p, data string) {
	d.t.Helper()
	mirrortest.WriteFile(d.t, d.dir, p, data)
}

// settled waits until every device holds the same tree and cond holds
// for it, and returns the tree.
func settled(t *testing.T, what string, limit time.Duration, cond func(map[string]string) bool, ds ...*device) map[string]string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		first := mirrortest.Tree(ds[0].dir)
		ok := cond == nil || cond(first)
		for _, d := range ds[1:] {
			ok = ok && maps.Equal(first, mirrortest.Tree(d.dir))
		}
		if ok {
			return first
		}
		if time.Now().After(deadline) {
			for _, d := range ds {
				t.Logf("%s:\n  %s\nstdout:\n%s\nstderr:\n%s", d.name, mirrortest.Describe(mirrortest.Tree(d.dir)), d.out.String(), d.errs.String())
			}
			t.Fatalf("%s: devices did not converge", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func holds(want map[string]string, gone ...string) func(map[string]string) bool {
	return func(got map[string]string) bool {
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		for _, p := range gone {
			if _, ok := got[p]; ok {
				return false
			}
		}
		return true
	}
}

// TestSyncTwoWayProcesses runs two "sync --mode two-way" processes on one
// write cap: create, edit, nested mkdir, a 5 MiB file, delete, rename and
// ignore patterns go from one to the other; a file edited on both keeps
// both versions on both; a delete loses to an edit; edits made while a
// device was stopped, or SIGKILLed, are reconciled when it starts again.
func TestSyncTwoWayProcesses(t *testing.T) {
	bin := buildBinary(t)
	dg, _, capFile := twoWayGrid(t, 3)
	a := newDevice(t, bin, dg, capFile, "a", "--ignore", "*.tmp")
	b := newDevice(t, bin, dg, capFile, "b", "--ignore", "*.tmp")
	const limit = 20 * time.Second

	a.write("hello.txt", "hello")
	settled(t, "create", limit, holds(map[string]string{"hello.txt": "hello"}), a, b)
	b.write("hello.txt", "hello, edited on b"+strings.Repeat("!", 80))
	settled(t, "edit", limit, holds(map[string]string{"hello.txt": "hello, edited on b" + strings.Repeat("!", 80)}), a, b)
	a.write("x/y/z/deep.txt", "deep")
	os.MkdirAll(a.path("empty/dir"), 0o755)
	settled(t, "nested mkdir", limit, holds(map[string]string{"x/y/z/deep.txt": "deep", "empty/dir": "/"}), a, b)
	big := strings.Repeat("5 MiB of text. ", 5<<20/15+1)[:5<<20]
	b.write("big.bin", big)
	settled(t, "5 MiB file", limit, holds(map[string]string{"big.bin": big}), a, b)
	os.Remove(a.path("hello.txt"))
	settled(t, "delete", limit, holds(nil, "hello.txt"), a, b)
	os.Rename(b.path("x/y/z/deep.txt"), b.path("x/renamed.txt"))
	settled(t, "rename", limit, holds(map[string]string{"x/renamed.txt": "deep"}, "x/y/z/deep.txt"), a, b)
	a.write("notes.tmp", "stays on a")
	a.write("visible.txt", "goes to b")
	settled(t, "ignore", limit, holds(map[string]string{"visible.txt": "goes to b"}), b)
	if _, err := os.Stat(b.path("notes.tmp")); err == nil {
		t.Error("an ignored file reached the other device")
	}
	os.Remove(a.path("notes.tmp"))

	a.write("shared.txt", "edited on a")
	b.write("shared.txt", "edited on b")
	final := settled(t, "concurrent edit", limit, func(m map[string]string) bool {
		var vs []string
		for p, v := range m {
			if p == "shared.txt" || strings.HasPrefix(p, "shared.txt.conflict-") {
				vs = append(vs, v)
			}
		}
		sort.Strings(vs)
		return strings.Join(vs, "|") == "edited on a|edited on b"
	}, a, b)
	t.Logf("after the concurrent edit: shared.txt is %q", final["shared.txt"])

	os.Remove(a.path("visible.txt"))
	b.write("visible.txt", "edited on b while a deleted it")
	settled(t, "remote delete vs local edit", limit, holds(map[string]string{"visible.txt": "edited on b while a deleted it"}), a, b)

	b.stop()
	b.write("offline.txt", "written while b was stopped")
	os.Remove(b.path("big.bin"))
	b.start()
	settled(t, "offline edits", limit, holds(map[string]string{"offline.txt": "written while b was stopped"}, "big.bin"), a, b)

	a.kill()
	a.write("after-kill.txt", "written while a was dead")
	a.start()
	settled(t, "after SIGKILL", limit, holds(map[string]string{"after-kill.txt": "written while a was dead"}), a, b)
	for _, d := range []*device{a, b} {
		for _, line := range strings.Split(strings.TrimSpace(d.out.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("%s: not JSON: %q", d.name, line)
			}
		}
		checkNoTemps(t, d.dir)
	}
	if !strings.Contains(a.out.String()+b.out.String(), `"type":"conflict"`) || !strings.Contains(a.out.String(), `"type":"uploaded"`) {
		t.Error("no uploaded or conflict events in --json output")
	}
	wc, _ := os.ReadFile(capFile)
	writekey := strings.Split(strings.TrimSpace(string(wc)), ":")[2]
	for _, d := range []*device{a, b} {
		if strings.Contains(d.out.String()+d.errs.String(), writekey) {
			t.Errorf("%s: the write cap's key reached the output or the logs", d.name)
		}
	}
	a.stop()
	b.stop()
}

// TestSyncTwoWayRandom runs three two-way devices on one write cap and
// applies random operations (create, edit, delete, rename, mkdir) in
// rounds: in each round every device makes a few changes at once, some
// to the same paths, then all must converge to one tree that holds
// every version written in the round (at its path or as a conflict
// copy). A third of the way in a storage server is stopped for a round;
// two thirds in, a device is SIGKILLed after its changes and started
// again. At the end the grid's tree, read by a one-way mirror, is the
// devices' tree. CI runs 60 operations; TAHOE_WATCH_SYNC_OPS=1000 runs
// the 1,000 (TAHOE_WATCH_SYNC_SEED repeats a run).
func TestSyncTwoWayRandom(t *testing.T) {
	ops := 60
	if s := os.Getenv("TAHOE_WATCH_SYNC_OPS"); s != "" {
		fmt.Sscan(s, &ops)
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("TAHOE_WATCH_SYNC_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("%d operations, seed %d", ops, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	bin := buildBinary(t)
	dg, _, capFile := twoWayGrid(t, 5)
	devs := []*device{newDevice(t, bin, dg, capFile, "a"), newDevice(t, bin, dg, capFile, "b"), newDevice(t, bin, dg, capFile, "c")}
	pool := []string{"f0", "f1", "f2", "d0/f3", "d0/f4", "d0/e/f5", "d1/f6", "d1/f7"}
	const perDevice = 4
	rounds := (ops + perDevice*len(devs) - 1) / (perDevice * len(devs))
	n, done := 0, 0
	for round := range rounds {
		serverDown := round == rounds/3 && rounds >= 3
		if serverDown {
			dg.Nodes[1].Stop()
		}
		var written []string
		for _, d := range devs {
			touched := map[string]bool{}
			for range perDevice {
				n++
				if v, ok := randomOp(t, rng, d, pool, touched, n); ok {
					written = append(written, v)
				}
				done++
			}
		}
		if round == 2*rounds/3 && rounds >= 3 {
			devs[2].kill()
			devs[2].start()
		}
		if serverDown {
			if err := dg.Nodes[1].Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		settled(t, fmt.Sprintf("round %d", round), 60*time.Second, func(m map[string]string) bool {
			have := map[string]bool{}
			for _, v := range m {
				have[v] = true
			}
			for _, v := range written {
				if !have[v] {
					return false
				}
			}
			return true
		}, devs...)
	}
	final := settled(t, "the end", 60*time.Second, nil, devs...)
	t.Logf("%d operations in %d rounds; %d paths at the end", done, rounds, len(final))
	gridDir := filepath.Join(t.TempDir(), "grid")
	code, _, errOut := run(t, append(append([]string{"sync", "--once", "--cap-file", capFile}, dg.ServerFlags()...), gridDir)...)
	if code != ExitOK {
		t.Fatalf("one-way mirror of the grid: exit %d: %s", code, errOut)
	}
	if g := mirrortest.Tree(gridDir); !maps.Equal(g, final) {
		t.Errorf("the grid holds\n  %s\nthe devices\n  %s", mirrortest.Describe(g), mirrortest.Describe(final))
	}
	for _, d := range devs {
		checkNoTemps(t, d.dir)
		d.stop()
	}
}

// randomOp makes one random change in d's folder, touching no path
// touched already this round, and returns the contents it wrote (ok
// false for a delete or a mkdir).
func randomOp(t *testing.T, rng *rand.Rand, d *device, pool []string, touched map[string]bool, n int) (string, bool) {
	files := []string{}
	for p, v := range mirrortest.Tree(d.dir) {
		if v != "/" && !touched[p] {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	free := func() string {
		for range 10 {
			if p := pool[rng.IntN(len(pool))]; !touched[p] {
				return p
			}
		}
		return fmt.Sprintf("extra/n%d", n)
	}
	content := fmt.Sprintf("%s wrote this as change %d%s", d.name, n, strings.Repeat(".", rng.IntN(200)))
	switch op := rng.IntN(10); {
	case op < 5 || len(files) == 0: // create or edit
		p := free()
		touched[p] = true
		d.write(p, content)
		return content, true
	case op < 7: // delete
		p := files[rng.IntN(len(files))]
		touched[p] = true
		os.Remove(d.path(p))
	case op < 9: // rename
		from, to := files[rng.IntN(len(files))], free()
		if _, err := os.Stat(d.path(to)); err == nil {
			to = fmt.Sprintf("renamed/n%d", n)
		}
		touched[from], touched[to] = true, true
		os.MkdirAll(filepath.Dir(d.path(to)), 0o755)
		if err := os.Rename(d.path(from), d.path(to)); err != nil {
			t.Logf("rename: %v", err)
		}
	default: // mkdir
		os.MkdirAll(d.path(fmt.Sprintf("dirs/m%d", n)), 0o755)
	}
	return "", false
}

// TestSyncUploadMode runs "sync --mode upload" in process: a local file
// reaches the grid (read back with a one-way "sync --once"), and a file
// only on the grid is not downloaded.
func TestSyncUploadMode(t *testing.T) {
	dg, _, want, ed := syncTree(t, 1, 100)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	capFile := filepath.Join(t.TempDir(), "dircap")
	if err := os.WriteFile(capFile, []byte(ed.root.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "backed-up.txt"), []byte("from the local folder"), 0o644)
	args := append([]string{"sync", "--mode", "upload", "--json", "--quiet-period", "20ms", "--cap-file", capFile}, dg.ServerFlags()...)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, Streams{In: strings.NewReader(""), Out: out, Err: io.Discard}, append(args, dir))
	}()
	waitUntil(t, "the upload", func() bool { return strings.Contains(out.String(), `"type":"uploaded"`) })
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d", code)
	}
	check := t.TempDir()
	if code, _, errOut := run(t, append(append([]string{"sync", "--once", "--cap-file", capFile}, dg.ServerFlags()...), check)...); code != ExitOK {
		t.Fatalf("read back: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(check, "backed-up.txt")); err != nil || string(b) != "from the local folder" {
		t.Errorf("on the grid: %q, %v", b, err)
	}
	for p := range want {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("upload mode downloaded %s", p)
		}
	}
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
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

func TestSyncUsage(t *testing.T) {
	code, _, _ := run(t, "sync", "URI:LIT:oruw46ik")
	if code != ExitUsage {
		t.Errorf("one argument: exit %d", code)
	}
	code, _, errOut := run(t, "sync", "--server", "pb://x@tcp:127.0.0.1:1/y", "URI:LIT:oruw46ik", t.TempDir())
	if code == ExitOK {
		t.Errorf("a file cap: exit 0, stderr %q", errOut)
	}
}

// syncBuffer is a goroutine-safe stdout for an in-process run.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

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

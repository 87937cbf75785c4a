package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tui"
)

func TestTuiSavesArgsAsReadCaps(t *testing.T) {
	w := cap.NewMutableFromKeys(cap.SDMF, false, make([]byte, 16), make([]byte, 32))
	file := filepath.Join(t.TempDir(), "tui.yaml")
	g, err := demo.StartGrid(context.Background(), t.TempDir(), demo.GridOptions{Servers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	ran := false
	opts := &tuiOptions{watchList: file, args: []string{w.String()}, s: StdStreams(),
		gridOptions: gridOptions{servers: []string{g.Nodes[0].Info.NURLs[0].String()}},
		run:         func(context.Context, tea.Model) error { ran = true; return nil }}
	if err := tuiRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("dashboard not shown")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), w.String()) || !strings.Contains(string(b), w.ReadOnly().String()) {
		t.Fatalf("watch list:\n%s", b)
	}
}

func TestTuiRejectsImmutableCap(t *testing.T) {
	opts := &tuiOptions{args: []string{"URI:LIT:nbswy3dp"}, s: StdStreams()}
	if err := tuiRun(context.Background(), opts); ExitCode(err) != ExitUsage {
		t.Fatalf("err %v, want a usage error", err)
	}
}

// TestTuiWithoutTerminalRefuses runs "tui < /dev/null" as a real process:
// it must exit 2 with a message saying why, having written nothing (no
// alternate screen, no mouse tracking) to stdout.
func TestTuiWithoutTerminalRefuses(t *testing.T) {
	bin := buildBinary(t)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	w := cap.NewMutableFromKeys(cap.SDMF, true, make([]byte, 16), make([]byte, 32))
	cmd := exec.Command(bin, "tui", "--watchlist", filepath.Join(t.TempDir(), "tui.yaml"),
		"--server", "pb://aaaa@tcp:127.0.0.1:1/bbbb", w.ReadOnly().String()+"/docs")
	var out, errOut strings.Builder
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitUsage {
		t.Fatalf("err %v, want exit %d; stderr:\n%s", err, ExitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), "needs a terminal") || !strings.Contains(errOut.String(), "stdin") {
		t.Errorf("stderr does not say why:\n%s", errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q to stdout before refusing", out.String())
	}
	if strings.Contains(errOut.String(), "epoll") || strings.Contains(errOut.String(), "goroutine") {
		t.Errorf("a Go error leaked:\n%s", errOut.String())
	}
}

// TestTuiRestoresTerminal runs the dashboard on a pseudo-terminal (from
// script) and ends it each way it can end: q, SIGTERM, and stdout not a
// terminal. Whatever it turned on, it turns off again before exiting.
func TestTuiRestoresTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("needs script(1) from util-linux for a pseudo-terminal")
	}
	bin := buildBinary(t)
	g, _, c := watchGrid(t)
	args := []string{bin, "tui", "--watchlist", filepath.Join(t.TempDir(), "tui.yaml")}
	args = append(append(args, g.ServerFlags()...), c.ReadOnly().String())
	line := strings.Join(args, " ")
	for _, tc := range []struct {
		name, line string
		quit       func(pid int, stdin io.Writer)
		code       int
	}{
		{"q", line, func(_ int, stdin io.Writer) { stdin.Write([]byte("q")) }, 0},
		{"SIGTERM", line, func(pid int, _ io.Writer) { syscall.Kill(pid, syscall.SIGTERM) }, 0},
		{"stdout not a terminal", line + " > " + filepath.Join(t.TempDir(), "out"), nil, ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			cmd := exec.Command("script", "-qec", "echo $$ > "+pidFile+"; exec "+tc.line, "/dev/null")
			// TERM=screen: termenv asks no colour query that script's
			// pseudo-terminal would leave unanswered for seconds.
			cmd.Env = append(os.Environ(), "TERM=screen")
			out := &lockedBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			stdin, _ := cmd.StdinPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if tc.quit != nil {
				deadline := time.Now().Add(20 * time.Second)
				for !strings.Contains(out.String(), "EVENTS") && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				b, _ := os.ReadFile(pidFile)
				pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
				if err != nil {
					cmd.Process.Kill()
					t.Fatalf("pid file %q: %v", b, err)
				}
				tc.quit(pid, stdin)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running:\n%q", out.String())
			}
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%q", code, tc.code, out.String())
			}
			s := out.String()
			if tc.code != 0 {
				if strings.Contains(s, "\x1b[?1049h") || !strings.Contains(s, "needs a terminal") {
					t.Errorf("touched the terminal, or did not say why:\n%q", s)
				}
				return
			}
			on := strings.LastIndex(s, "\x1b[?1049h")
			if on < 0 || !strings.Contains(s, "EVENTS") {
				t.Fatalf("never showed the dashboard:\n%q", s)
			}
			for _, off := range []string{"\x1b[?1049l", "\x1b[?1002l", "\x1b[?25h"} {
				if !strings.Contains(s[on:], off) {
					t.Errorf("did not undo with %q after the alternate screen:\n%q", off, s[on:])
				}
			}
		})
	}
}

// TestTuiAcceptsCapPath gives tui DIRCAP/PATH, as every other command
// takes it: the row is the file below the directory, named by the path,
// and the watch list remembers both.
func TestTuiAcceptsCapPath(t *testing.T) {
	ctx := context.Background()
	g, tree := demoTree(t)
	file := filepath.Join(t.TempDir(), "tui.yaml")
	var shown tea.Model
	opts := &tuiOptions{watchList: file, args: []string{tree.Root.String() + "/docs/notes.txt"}, s: StdStreams(),
		gridOptions: gridOptions{servers: serverNURLs(g)},
		run:         func(_ context.Context, m tea.Model) error { shown = m; return nil }}
	if err := tuiRun(ctx, opts); err != nil {
		t.Fatal(err)
	}
	view := shown.View()
	if !strings.Contains(view, "> docs/notes.txt") {
		t.Errorf("no row named by the path:\n%s", view)
	}
	ts, err := tui.LoadWatchList(file)
	if err != nil {
		t.Fatal(err)
	}
	want := tree.Files["docs/notes.txt"].ReadOnly().String()
	if len(ts) != 1 || ts[0].Cap.String() != want || ts[0].Name != "docs/notes.txt" {
		t.Fatalf("watch list %+v, want the file's read cap named docs/notes.txt", ts)
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), tree.Root.String()) {
		t.Error("the directory's write cap was saved")
	}

	// The add prompt resolves CAP/PATH the same way, with a name after it.
	target, err := resolveTarget(ctx, g.Grid(), tree.Root.ReadOnly().String()+"/todo.txt  my list")
	if err != nil {
		t.Fatal(err)
	}
	if target.Cap.String() != tree.Files["todo.txt"].ReadOnly().String() || target.Name != "my list" {
		t.Fatalf("resolved %v %q", target.Cap, target.Name)
	}
	if _, err := resolveTarget(ctx, g.Grid(), tree.Root.ReadOnly().String()+"/nothing"); err == nil {
		t.Error("a missing path resolved")
	}
}

// demoTree starts the demo grid with its populated tree, both closed
// when t ends.
func demoTree(t *testing.T) (*demo.Grid, *demo.Tree) {
	t.Helper()
	ctx := context.Background()
	g, err := demo.StartGrid(ctx, t.TempDir(), demo.GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	tree, err := demo.Populate(ctx, g.Grid())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tree.Close)
	return g, tree
}

func serverNURLs(g *demo.Grid) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.Info.NURLs[0].String())
	}
	return out
}

// TestTuiCapFile: --cap-file adds the targets in the file, a write cap
// in it is reduced to its read cap, and a shared file holding a write cap
// is refused.
func TestTuiCapFile(t *testing.T) {
	ctx := context.Background()
	g, tree := demoTree(t)
	capFile := writeCapFile(t, "# the demo's list\n"+tree.Root.String()+"/todo.txt\n", 0o600)
	var shown tea.Model
	opts := &tuiOptions{capFile: capFile, s: StdStreams(), gridOptions: gridOptions{servers: serverNURLs(g)},
		run: func(_ context.Context, m tea.Model) error { shown = m; return nil }}
	if err := tuiRun(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if view := shown.View(); !strings.Contains(view, "todo.txt") || strings.Contains(view, tree.Root.String()) {
		t.Errorf("want a todo.txt row and no write cap:\n%s", view)
	}
	opts.capFile = writeCapFile(t, tree.Root.String()+"\n", 0o644)
	if err := tuiRun(ctx, opts); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a shared cap file with a write cap: %v", err)
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// lockedBuffer is a buffer safe to write from the command and read from
// the test.
type lockedBuffer = testutil.Buffer

// watchGrid starts an embedded grid and publishes one 3-of-5 file on it.
func watchGrid(t *testing.T) (*demo.Grid, *publish.Publisher, *cap.Mutable) {
	t.Helper()
	g, err := demo.StartGrid(context.Background(), t.TempDir(), demo.GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	p := &publish.Publisher{Grid: g.Grid(), Dial: cl.Dial}
	key, err := rsakey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Create(context.Background(), key, []byte("first"), publish.Params{Format: cap.SDMF, K: 3, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	return g, p, res.Cap
}

// startWatch runs the command in the background and waits until it is
// watching. The returned function waits for its exit code.
func startWatch(t *testing.T, ctx context.Context, args []string) (out, errOut *lockedBuffer, wait func() int) {
	t.Helper()
	out, errOut = &lockedBuffer{}, &lockedBuffer{}
	code := make(chan int, 1)
	go func() { code <- Run(ctx, Streams{In: strings.NewReader(""), Out: out, Err: errOut}, args) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "msg=watching") {
		select {
		case c := <-code:
			t.Fatalf("exited %d early; stderr:\n%s", c, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not watching after 30s; stderr:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out, errOut, func() int {
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatalf("still running; stderr:\n%s", errOut.String())
		}
		return -1
	}
}

func TestWatchOnceJSONAndWriteCapNeverShown(t *testing.T) {
	g, p, c := watchGrid(t)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	args := append(g.ServerFlags(), "--json", "--once", "--stdin",
		"--exec", "env > "+envFile+"; cat > "+filepath.Join(dir, "stdin"), c.String())
	out, errOut, wait := startWatch(t, context.Background(), args)
	if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte("second"), nil }); err != nil {
		t.Fatal(err)
	}
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"type":"ready"`) {
		t.Fatalf("stdout has %d lines, want the ready event and one change:\n%s", len(lines), out.String())
	}
	lines = lines[1:]
	var e map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "time", "cap", "path", "seqnum", "previous_seqnum", "roothash", "size", "via"} {
		if _, ok := e[k]; !ok {
			t.Errorf("JSON event has no %q: %s", k, lines[0])
		}
	}
	if e["type"] != string(events.Changed) || e["seqnum"] != 2.0 || e["cap"] != c.ReadOnly().String() {
		t.Errorf("event %s", lines[0])
	}
	env, _ := os.ReadFile(envFile)
	if !strings.Contains(string(env), "TAHOE_WATCH_CAP="+c.ReadOnly().String()) || !strings.Contains(string(env), "TAHOE_WATCH_SEQNUM=2") {
		t.Errorf("hook env:\n%s", env)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "stdin")); string(b) != "second" {
		t.Errorf("hook stdin %q", b)
	}
	secret := base32.Encode(c.Writekey)
	for name, s := range map[string]string{"stdout": out.String(), "stderr": errOut.String(), "hook env": string(env)} {
		if strings.Contains(s, secret) {
			t.Errorf("the write cap's key appears in %s", name)
		}
	}
}

func TestWatchTextAndSignalExit(t *testing.T) {
	g, p, c := watchGrid(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, wait := startWatch(t, ctx, append(g.ServerFlags(), c.ReadOnly().String()))
	if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte("second"), nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "changed") {
		if time.Now().After(deadline) {
			t.Fatalf("no event; stderr:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "seq 2 (was 1) via push") {
		t.Errorf("text line %q", out.String())
	}
	cancel()
	start := time.Now()
	if code := wait(); code != ExitOK {
		t.Errorf("exit %d after cancel", code)
	}
	if d := time.Since(start); d > 3*time.Second { // the promise is 1 s; allow for -race on a busy machine
		t.Errorf("took %s to stop", d)
	}
}

func TestWatchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "--format", "{{.Type}}", "URI:SSK-RO:aaaa:bbbb"},
		{"--on-busy", "later", "--exec", "true", "URI:SSK-RO:aaaa:bbbb"},
		{"--stdin", "URI:SSK-RO:aaaa:bbbb"},
		{"not-a-cap"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), Streams{Out: &out, Err: &errOut}, args); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, ExitUsage, errOut.String())
		}
	}
}

func TestWatchCountAndDashCommand(t *testing.T) {
	g, p, c := watchGrid(t)
	file := filepath.Join(t.TempDir(), "runs")
	args := append(g.ServerFlags(), "--count", "2", "--format", "{{.Type}} {{.Seqnum}}", c.ReadOnly().String(),
		"--", "sh", "-c", "echo $TAHOE_WATCH_SEQNUM >> "+file)
	out, errOut, wait := startWatch(t, context.Background(), args)
	for i, text := range []string{"second", "third"} {
		if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte(text), nil }); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(out.String(), "\n") < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("no event %d; stderr:\n%s", i+1, errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	if out.String() != "changed 2\nchanged 3\n" {
		t.Errorf("stdout %q", out.String())
	}
	b, _ := os.ReadFile(file)
	if !strings.HasSuffix(string(b), "3\n") {
		t.Errorf("the command did not run for the last change: %q", b)
	}
	if !strings.Contains(errOut.String(), "hook exited") {
		t.Errorf("hook exit status not logged:\n%s", errOut.String())
	}
}

package hook_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/hook"
)

func (r *run) sendPath(path string, seq uint64) {
	r.in <- events.Event{Type: events.Modified, Cap: "URI:SSK-RO:aaaa:bbbb", Path: path, Root: "URI:DIR2-RO:cccc:dddd",
		Seqnum: seq, Via: events.ViaPush, Time: time.Date(2026, 12, 1, 0, 0, 0, int(seq), time.UTC)}
}

// batchCmd records, per run, the batch variables.
const batchCmd = `{ echo "run $TAHOE_WATCH_COUNT $TAHOE_WATCH_ROOT $TAHOE_WATCH_VIA $TAHOE_WATCH_TIME"; printf %s "$TAHOE_WATCH_PATHS"; } >> $D/runs
printf %s "$TAHOE_WATCH_EVENTS" >> $D/events`

// TestBatchedRunSeesEveryChange: changes in one debounce window run the
// command once, with every path and event of the batch.
func TestBatchedRunSeesEveryChange(t *testing.T) {
	r := start(t, batchCmd, hook.Options{Debounce: 300 * time.Millisecond})
	r.sendPath("a.txt", 1)
	r.sendPath("sub/b.txt", 2)
	r.sendPath("a.txt", 3)
	r.finish()
	want := "run 3 URI:DIR2-RO:cccc:dddd push 2026-12-01T00:00:00.000000003Z\na.txt\nsub/b.txt\n"
	if got := r.file("runs"); got != want {
		t.Errorf("runs %q, want %q", got, want)
	}
	var seqs []uint64
	sc := bufio.NewScanner(strings.NewReader(r.file("events")))
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("TAHOE_WATCH_EVENTS line %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, e.Seqnum)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Errorf("events of seqnums %v, want [1 2 3]", seqs)
	}
}

// TestOnBusyQueueKeepsEveryChange: changes that come while the command
// runs are all given to the next run, not only the newest.
func TestOnBusyQueueKeepsEveryChange(t *testing.T) {
	r := start(t, `echo x >> $D/started; sleep 0.5; `+batchCmd, hook.Options{Debounce: -1, OnBusy: hook.Queue})
	r.sendPath("first", 1)
	r.waitFor("started", "x")
	r.sendPath("p1", 2)
	r.sendPath("p2", 3)
	r.sendPath("p3", 4)
	r.finish()
	got := r.file("runs")
	if !strings.HasPrefix(got, "run 1 ") || !strings.Contains(got, "\nfirst\nrun 3 ") || !strings.HasSuffix(got, "\np1\np2\np3\n") {
		t.Errorf("runs %q: want a run for first, then one for p1, p2 and p3", got)
	}
}

func TestBatchEnvIsBounded(t *testing.T) {
	var batch []events.Event
	for i := range 5000 {
		batch = append(batch, events.Event{Type: events.Added, Path: fmt.Sprintf("dir/file-%05d", i)})
	}
	env := hook.BatchEnv(batch)
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		if len(kv) > hook.MaxBatchVar+64 {
			t.Errorf("%s is %d bytes", k, len(kv))
		}
	}
	if vars["TAHOE_WATCH_TRUNCATED"] != "1" || vars["TAHOE_WATCH_COUNT"] != "5000" || !strings.HasSuffix(vars["TAHOE_WATCH_PATHS"], "dir/file-04999\n") {
		t.Errorf("truncated %q count %q", vars["TAHOE_WATCH_TRUNCATED"], vars["TAHOE_WATCH_COUNT"])
	}
}

func TestStatusOfRuns(t *testing.T) {
	if _, err := hook.New(hook.Options{Argv: []string{"no-such-command-tahoe-watch"}}); err == nil {
		t.Fatal("a missing command accepted")
	} else if se, ok := err.(*hook.StatusError); !ok || se.Status != 127 {
		t.Fatalf("missing command: %v, want status 127", err)
	} else if msg := err.Error(); msg != "command not found: no-such-command-tahoe-watch (not on $PATH)" {
		t.Errorf("missing command said as %q, want it in words", msg)
	}
	for cmd, want := range map[string]int{"exit 3": 3, "true": 0, "FOO=1 no-such-command-tahoe-watch": 127, "kill -9 $$": 137} {
		var log bytes.Buffer
		h, err := hook.New(hook.Options{Argv: hook.Shell(cmd), Debounce: -1, Stdout: io.Discard, Stderr: io.Discard,
			Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan events.Event, 1)
		in <- events.Event{Type: events.Changed}
		close(in)
		h.Run(t.Context(), in)
		if got := h.LastStatus(); got != want {
			t.Errorf("%s: status %d, want %d", cmd, got, want)
		}
		if !strings.Contains(log.String(), fmt.Sprintf("status=%d", want)) {
			t.Errorf("%s: the log does not give status %d: %s", cmd, want, log.String())
		}
	}
}

func TestShellCommandCheckedAtStart(t *testing.T) {
	for cmd, refused := range map[string]bool{
		"no-such-command-tw --flag":     true,
		"no-such-command-tw; echo x":    true,
		"true":                          false,
		"echo $TAHOE_WATCH_PATH":        false,
		"FOO=1 no-such-command-tw":      false, // cannot tell: left to the shell
		"if true; then :; fi":           false,
		"make -C /tmp":                  false,
		"./no-such-script.sh":           true,
		"$(echo no-such-command-tw) -x": false,
	} {
		if cmd == "make -C /tmp" {
			if _, err := exec.LookPath("make"); err != nil {
				continue
			}
		}
		_, err := hook.New(hook.Options{Argv: hook.Shell(cmd)})
		var se *hook.StatusError
		if got := errors.As(err, &se) && se.Status == hook.StatusNotFound; got != refused {
			t.Errorf("%q: refused %v (%v), want %v", cmd, got, err, refused)
		}
	}
}

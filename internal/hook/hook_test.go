package hook_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/hook"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// syncBuffer is a goroutine-safe buffer for logs and output.
type syncBuffer = testutil.Buffer

type run struct {
	t    *testing.T
	in   chan events.Event
	done chan error
	log  *syncBuffer
	out  *syncBuffer
	dir  string
}

// start runs a hook runner with a shell command; $D is a scratch directory.
func start(t *testing.T, cmd string, o hook.Options) *run {
	t.Helper()
	r := &run{t: t, in: make(chan events.Event), done: make(chan error, 1), log: &syncBuffer{}, out: &syncBuffer{}, dir: t.TempDir()}
	o.Argv = hook.Shell("D=" + r.dir + "; " + cmd)
	o.Stdout, o.Stderr = r.out, r.out
	o.Logger = slog.New(slog.NewTextHandler(r.log, nil))
	h, err := hook.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- h.Run(ctx, r.in) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *run) send(seq uint64) {
	r.in <- events.Event{Type: events.Changed, Cap: "URI:SSK-RO:aaaa:bbbb", Path: "dir/f", Seqnum: seq,
		PreviousSeqnum: seq - 1, RootHash: "root", Size: 5, Contents: []byte("hello")}
}

// finish closes the input and waits for the runner to finish.
func (r *run) finish() {
	r.t.Helper()
	close(r.in)
	select {
	case <-r.done:
		r.done <- nil // for Cleanup
	case <-time.After(20 * time.Second):
		r.t.Fatal("runner did not finish")
	}
}

func (r *run) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, name))
	return string(b)
}

// waitFor waits until file name contains s.
func (r *run) waitFor(name, s string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.file(name), s) {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s never contained %q; it has %q; log:\n%s", name, s, r.file(name), r.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEnvAndStdin(t *testing.T) {
	r := start(t, `env | grep -E '^TAHOE_WATCH_(CAP|EVENT|PATH|PREVIOUS_SEQNUM|ROOTHASH|SEQNUM|SIZE)=' | sort > $D/env; cat > $D/stdin; echo out`, hook.Options{Stdin: true})
	r.send(7)
	r.finish()
	want := strings.Join([]string{
		"TAHOE_WATCH_CAP=URI:SSK-RO:aaaa:bbbb",
		"TAHOE_WATCH_EVENT=changed",
		"TAHOE_WATCH_PATH=dir/f",
		"TAHOE_WATCH_PREVIOUS_SEQNUM=6",
		"TAHOE_WATCH_ROOTHASH=root",
		"TAHOE_WATCH_SEQNUM=7",
		"TAHOE_WATCH_SIZE=5",
	}, "\n") + "\n"
	if got := r.file("env"); got != want {
		t.Errorf("env:\n%s\nwant:\n%s", got, want)
	}
	if got := r.file("stdin"); got != "hello" {
		t.Errorf("stdin %q", got)
	}
	if r.out.String() != "out\n" {
		t.Errorf("output %q did not pass through", r.out.String())
	}
	if !strings.Contains(r.log.String(), "status=0") {
		t.Errorf("exit status not logged: %s", r.log.String())
	}
}

func TestDebounceRunsOnceWithTheLatest(t *testing.T) {
	r := start(t, `echo $TAHOE_WATCH_SEQNUM >> $D/runs`, hook.Options{Debounce: 300 * time.Millisecond})
	for seq := uint64(1); seq <= 5; seq++ {
		r.send(seq)
	}
	r.finish()
	if got := r.file("runs"); got != "5\n" {
		t.Errorf("runs %q, want one run with seqnum 5", got)
	}
}

// busyCmd records start and end of each run and any overlap.
const busyCmd = `mkdir $D/lock 2>/dev/null || echo OVERLAP >> $D/runs
echo start $TAHOE_WATCH_SEQNUM >> $D/runs
sleep 1
echo end $TAHOE_WATCH_SEQNUM >> $D/runs
rmdir $D/lock`

func TestOnBusyQueueKeepsLatest(t *testing.T) {
	r := start(t, busyCmd, hook.Options{Debounce: -1, OnBusy: hook.Queue})
	r.send(1)
	r.waitFor("runs", "start 1")
	r.send(2)
	r.send(3)
	r.finish()
	if got, want := r.file("runs"), "start 1\nend 1\nstart 3\nend 3\n"; got != want {
		t.Errorf("runs %q, want %q", got, want)
	}
}

func TestOnBusyDoNothing(t *testing.T) {
	r := start(t, busyCmd, hook.Options{Debounce: -1, OnBusy: hook.DoNothing})
	r.send(1)
	r.waitFor("runs", "start 1")
	r.send(2)
	r.finish()
	if got, want := r.file("runs"), "start 1\nend 1\n"; got != want {
		t.Errorf("runs %q, want %q", got, want)
	}
}

func TestOnBusyRestart(t *testing.T) {
	r := start(t, `trap 'rmdir $D/lock; exit 143' TERM
mkdir $D/lock 2>/dev/null || echo OVERLAP >> $D/runs
echo start $TAHOE_WATCH_SEQNUM >> $D/runs
sleep 5 & wait
echo end $TAHOE_WATCH_SEQNUM >> $D/runs
rmdir $D/lock`, hook.Options{Debounce: -1, OnBusy: hook.Restart})
	r.send(1)
	r.waitFor("runs", "start 1")
	r.send(2)
	r.waitFor("runs", "start 2")
	got := r.file("runs")
	if got != "start 1\nstart 2\n" {
		t.Errorf("runs %q, want the first stopped and the second started", got)
	}
	if !strings.Contains(r.log.String(), "status=143") {
		t.Errorf("the stopped run's status is not logged: %s", r.log.String())
	}
}

func TestOnBusySignal(t *testing.T) {
	r := start(t, `trap 'echo signalled >> $D/runs' USR1
echo start $TAHOE_WATCH_SEQNUM >> $D/runs
i=0; while [ $i -lt 20 ] && ! grep -q signalled $D/runs; do sleep 0.1; i=$((i+1)); done
echo end $TAHOE_WATCH_SEQNUM >> $D/runs`, hook.Options{Debounce: -1, OnBusy: hook.Signal, Signal: syscall.SIGUSR1})
	r.send(1)
	r.waitFor("runs", "start 1")
	r.send(2)
	r.finish()
	if got, want := r.file("runs"), "start 1\nsignalled\nend 1\n"; got != want {
		t.Errorf("runs %q, want %q", got, want)
	}
}

func TestTimeoutStopsTheHook(t *testing.T) {
	r := start(t, `echo start >> $D/runs; sleep 10 & wait; echo end >> $D/runs`,
		hook.Options{Debounce: -1, Timeout: 300 * time.Millisecond})
	r.send(1)
	r.finish()
	if got := r.file("runs"); got != "start\n" {
		t.Errorf("runs %q, want the hook stopped before its end", got)
	}
	if !strings.Contains(r.log.String(), "timed out") {
		t.Errorf("timeout not logged: %s", r.log.String())
	}
}

func TestExitStatusLogged(t *testing.T) {
	r := start(t, `exit 3`, hook.Options{Debounce: -1})
	r.send(1)
	r.finish()
	if !strings.Contains(r.log.String(), "status=3") {
		t.Errorf("status not logged: %s", r.log.String())
	}
}

func TestWarningsDoNotRunTheHook(t *testing.T) {
	r := start(t, `echo ran >> $D/runs`, hook.Options{Debounce: -1})
	r.in <- events.Event{Type: events.Warning}
	r.finish()
	if got := r.file("runs"); got != "" {
		t.Errorf("hook ran for a warning: %q", got)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"queue", "do-nothing", "restart", "signal"} {
		if _, err := hook.ParsePolicy(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := hook.ParsePolicy("later"); err == nil {
		t.Error("bad policy accepted")
	}
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout/natstest"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// helperArgsEnv carries the arguments of TestHelperProcessWatch.
const helperArgsEnv = "TAHOE_WATCH_TEST_HELPER_ARGS"

// TestHelperProcessWatch is not a test: the NATS tests re-execute the
// test binary with it to run the watcher as a separate process they can
// kill. Without helperArgsEnv it does nothing.
func TestHelperProcessWatch(t *testing.T) {
	raw := os.Getenv(helperArgsEnv)
	if raw == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(Run(ctx, Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, args))
}

// startWatchProcess runs the watcher as a child process and waits until
// it watches.
func startWatchProcess(t *testing.T, args []string) (*exec.Cmd, *lockedBuffer, *lockedBuffer) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWatch$")
	cmd.Env = append(os.Environ(), helperArgsEnv+"="+string(raw))
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, errOut, func() bool { return strings.Contains(errOut.String(), "msg=watching") })
	return cmd, out, errOut
}

// waitFor polls cond for up to 30 s, failing with the log if it never holds.
func waitFor(t *testing.T, log *lockedBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; output:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// change writes the n-th new version of c (seqnum n+1) and waits until
// every watcher printed it.
func change(t *testing.T, p *publish.Publisher, c *cap.Mutable, n int, outs ...*lockedBuffer) {
	t.Helper()
	text := []byte(strings.Repeat("v", n))
	if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return text, nil }); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"seqnum":%d,`, n+1)
	for _, out := range outs {
		waitFor(t, out, func() bool { return strings.Contains(out.String(), want) })
	}
}

// checkOncePerSeqnum checks the stream holds one changed event per
// seqnum from 2 to 11, in order, under the cap's subject, with no trace
// of the write cap.
func checkOncePerSeqnum(t *testing.T, msgs []*jetstream.RawStreamMsg, c *cap.Mutable) []events.Event {
	t.Helper()
	if len(msgs) != 10 {
		t.Errorf("the stream holds %d messages, want 10", len(msgs))
	}
	subject := natsout.DefaultSubjectPrefix + "." + cap.FormatSI(c.StorageIndex()) + ".changed"
	secret := base32.Encode(c.Writekey)
	var evs []events.Event
	for i, m := range msgs {
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if e.Seqnum != uint64(i+2) || e.Type != events.Changed || m.Subject != subject {
			t.Errorf("message %d: %s seqnum %d on %s", i, e.Type, e.Seqnum, m.Subject)
		}
		if strings.Contains(string(m.Data), secret) || strings.Contains(m.Header.Get(jetstream.MsgIDHeader), secret) {
			t.Errorf("message %d carries the write cap's key", i)
		}
		evs = append(evs, e)
	}
	return evs
}

func natsArgs(g interface{ ServerFlags() []string }, url string, c *cap.Mutable) []string {
	return append(g.ServerFlags(), "--json", "--nats", url, "--nats-stream", "EVENTS", c.ReadOnly().String())
}

// TestWatchNATSTwoWatchersStoreEachChangeOnce: two watchers of one cap
// (one given its read cap, one its write cap) publish into one stream;
// 10 changes are stored once each, with no trace of the write cap, and
// the stored events are those --json printed.
func TestWatchNATSTwoWatchersStoreEachChangeOnce(t *testing.T) {
	g, p, c := watchGrid(t)
	srv := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := append([]string{"--verbose"}, natsArgs(g, srv.URL(), c)...)
	outA, errA, waitA := startWatch(t, ctx, args)
	// B is given the write cap: its events must still be the same events,
	// and no trace of the write cap may reach NATS
	args[len(args)-1] = c.String()
	outB, errB, waitB := startWatch(t, ctx, args)
	for n := 1; n <= 10; n++ {
		change(t, p, c, n, outA, outB)
	}
	srv.WaitMessages(t, "EVENTS", 10)
	cancel()
	if a, b := waitA(), waitB(); a != ExitOK || b != ExitOK {
		t.Fatalf("exits %d %d; stderr:\n%s\n%s", a, b, errA.String(), errB.String())
	}
	stored := checkOncePerSeqnum(t, srv.Messages(t, "EVENTS"), c)
	if dups := strings.Count(errA.String()+errB.String(), "NATS already holds this event"); dups == 0 {
		t.Error("no publish was a duplicate: one watcher did not publish")
	}
	if secret := base32.Encode(c.Writekey); strings.Contains(outB.String()+errB.String(), secret) {
		t.Error("the write cap's key appears in the watcher's output or log")
	}
	for i, line := range publishedLines(outA.String()) {
		var e events.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if i < len(stored) && !sameIdentity(e, stored[i]) {
			t.Errorf("event %d: --json printed %+v, the stream holds %+v", i, e, stored[i])
		}
	}
}

// sameIdentity compares what two watchers agree on about one change.
func sameIdentity(a, b events.Event) bool {
	return a.Type == b.Type && a.Cap == b.Cap && a.Root == b.Root && a.Path == b.Path &&
		a.Seqnum == b.Seqnum && a.RootHash == b.RootHash && a.Size == b.Size
}

// TestWatchNATSWatcherKilledHalfway: of two watchers, one is a separate
// process (alone for the first change, to show it publishes) killed
// with SIGKILL after 5 changes; the stream still holds all 10 once.
func TestWatchNATSWatcherKilledHalfway(t *testing.T) {
	g, p, c := watchGrid(t)
	srv := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := natsArgs(g, srv.URL(), c)
	proc, outA, errA := startWatchProcess(t, args)
	defer func() {
		if t.Failed() {
			t.Logf("the process's stderr:\n%s\nstdout:%q", errA.String(), outA.String())
			for _, m := range srv.Messages(t, "EVENTS") {
				t.Logf("stored %s", m.Data)
			}
		}
	}()
	change(t, p, c, 1, outA)
	srv.WaitMessages(t, "EVENTS", 1) // the process publishes
	outB, errB, waitB := startWatch(t, ctx, args)
	for n := 2; n <= 5; n++ {
		change(t, p, c, n, outA, outB)
	}
	srv.WaitMessages(t, "EVENTS", 5)
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	for n := 6; n <= 10; n++ {
		change(t, p, c, n, outB)
	}
	srv.WaitMessages(t, "EVENTS", 10)
	cancel()
	if code := waitB(); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errB.String())
	}
	checkOncePerSeqnum(t, srv.Messages(t, "EVENTS"), c)
}

// TestWatchNATSServerRestartAndConsumer restarts the NATS server (same
// port, same file store) while changes happen, with the URL from
// $NATS_URL; no event is lost, and a consumer group reading the stream
// gets exactly the lines --json printed, in seqnum order.
func TestWatchNATSServerRestartAndConsumer(t *testing.T) {
	g, p, c := watchGrid(t)
	srv := natstest.Start(t)
	t.Setenv("NATS_URL", srv.URL())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, wait := startWatch(t, ctx, append(g.ServerFlags(), "--json", "--nats-stream", "EVENTS", c.ReadOnly().String()))
	for n := 1; n <= 3; n++ {
		change(t, p, c, n, out)
	}
	srv.WaitMessages(t, "EVENTS", 3)
	srv.Stop()
	for n := 4; n <= 7; n++ {
		change(t, p, c, n, out) // printed now, published after the restart
	}
	srv.Restart()
	for n := 8; n <= 10; n++ {
		change(t, p, c, n, out)
	}
	srv.WaitMessages(t, "EVENTS", 10)
	cancel()
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	checkOncePerSeqnum(t, srv.Messages(t, "EVENTS"), c)
	got := consumeAll(t, srv.URL(), natsout.DefaultSubjectPrefix+"."+cap.FormatSI(c.StorageIndex())+".>", 10)
	if want := publishedLines(out.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the consumers read:\n%s\n--json printed:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(errOut.String(), "NATS publish failed; retrying") {
		t.Errorf("the outage was not logged:\n%s", errOut.String())
	}
}

// consumeAll reads n messages through a durable consumer shared by two
// workers taking turns, acking each, and returns the bodies in stream
// order.
func consumeAll(t *testing.T, url, filter string, n int) []string {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{Durable: "workers",
		FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for worker := 0; len(got) < n; worker = 1 - worker {
		batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got = append(got, string(m.Data()))
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		if batch.Error() != nil {
			t.Fatalf("worker %d: %v", worker, batch.Error())
		}
	}
	return got
}

func TestWatchNATSUsageErrors(t *testing.T) {
	t.Setenv("NATS_URL", "")
	g, _, c := watchGrid(t)
	for _, args := range [][]string{
		{"--nats-stream", "EVENTS"},
		{"--nats", "http://127.0.0.1:4222"},
		{"--nats", "nats://127.0.0.1:4222", "--nats-stream", "a.b"},
		{"--nats", "nats://127.0.0.1:4222", "--nats-buffer", "0"},
		{"--nats", "nats://127.0.0.1:4222", "--nats-buffer", "1000000000"},
		{"--nats", "nats://127.0.0.1:4222", "--nats-creds", "/nonexistent/user.creds"},
	} {
		var out, errOut lockedBuffer
		args := append(append(g.ServerFlags(), args...), c.ReadOnly().String())
		code := Run(context.Background(), Streams{Out: &out, Err: &errOut}, args)
		if code != ExitUsage || !strings.Contains(strings.ToLower(errOut.String()), "nats") {
			t.Errorf("%q: exit %d, want %d; stderr: %s", args, code, ExitUsage, errOut.String())
		}
	}
}

// TestWatchNATSOncePublishesBeforeExit: --once with --exec exits after
// the first change, and the event is already in the stream when it has
// exited (the sink drains before the watcher returns).
func TestWatchNATSOncePublishesBeforeExit(t *testing.T) {
	g, p, c := watchGrid(t)
	srv := natstest.Start(t)
	args := append(g.ServerFlags(), "--once", "--exec", "true", "--nats", srv.URL(), c.ReadOnly().String())
	_, errOut, wait := startWatch(t, context.Background(), args)
	if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte("second"), nil }); err != nil {
		t.Fatal(err)
	}
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	msgs := srv.Messages(t, natsout.DefaultStream)
	if len(msgs) != 1 || msgs[0].Header.Get(natsout.HeaderSeqnum) != "2" {
		t.Fatalf("the stream holds %d messages right after exit, want the one change", len(msgs))
	}
}

// publishedLines are the --json lines a NATS sink publishes: all but the
// watcher's own ready event, which is never published.
func publishedLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, `{"type":"ready"`) {
			lines = append(lines, l)
		}
	}
	return lines
}

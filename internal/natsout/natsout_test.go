package natsout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout/natstest"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// logBuffer collects a sink's log, safe for concurrent use.
type logBuffer = testutil.Buffer

func newSink(t *testing.T, o natsout.Options) (*natsout.Sink, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	s, err := natsout.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

// readCap is the read cap of the n-th mutable in Tahoe's capability
// vectors: real caps with real storage indexes.
func readCap(t testing.TB, n int) string {
	t.Helper()
	vectorsOnce.Do(func() {
		for _, v := range testutil.CapVectors(t) {
			if v.SSKFormat() != "" {
				mutableCaps = append(mutableCaps, v.Expected)
			}
		}
	})
	c, err := cap.Parse(mutableCaps[n])
	if err != nil {
		t.Fatal(err)
	}
	return c.ReadOnly().String()
}

var (
	vectorsOnce sync.Once
	mutableCaps []string
)

func changed(root string, seq uint64, server string) events.Event {
	return events.Event{Type: events.Changed, Time: time.Now(), Cap: root, Root: root, Seqnum: seq,
		PreviousSeqnum: seq - 1, Size: 5, Via: events.ViaPush, Server: server, LatencyMS: float64(seq)}
}

func TestTwoSinksStoreEachEventOnce(t *testing.T) {
	srv := natstest.Start(t)
	root := readCap(t, 1)
	a, _ := newSink(t, natsout.Options{URL: srv.URL(), Stream: "W"})
	b, _ := newSink(t, natsout.Options{URL: srv.URL(), Stream: "W"})
	for seq := uint64(2); seq <= 6; seq++ {
		a.Publish(context.Background(), changed(root, seq, "server-a"))
		// b saw the same changes through another server, later
		b.Publish(context.Background(), changed(root, seq, "server-b"))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(t, "W")
	if len(msgs) != 5 {
		t.Fatalf("stream holds %d messages, want 5", len(msgs))
	}
	c, _ := cap.Parse(root)
	si := cap.FormatSI(c.StorageIndex())
	for i, m := range msgs {
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if e.Seqnum != uint64(i+2) || m.Subject != "tahoe.watch."+si+".changed" {
			t.Errorf("message %d: seqnum %d on %s", i, e.Seqnum, m.Subject)
		}
		if m.Header.Get(natsout.HeaderSeqnum) != fmt.Sprint(e.Seqnum) || m.Header.Get(natsout.HeaderSI) != si ||
			m.Header.Get(natsout.HeaderType) != "changed" {
			t.Errorf("message %d headers %v", i, m.Header)
		}
	}
}

func TestMsgIDIsTheEventsIdentityOnly(t *testing.T) {
	root := readCap(t, 1)
	id := func(e events.Event) string {
		t.Helper()
		i, err := natsout.IdentityOf(e)
		if err != nil {
			t.Fatal(err)
		}
		return i.MsgID()
	}
	base := changed(root, 7, "a")
	local := base
	local.Time, local.Via, local.Server, local.LatencyMS, local.PreviousSeqnum = time.Now().Add(time.Hour), events.ViaRefresh, "b", 99, 3
	if id(base) != id(local) {
		t.Error("watcher-local fields change the Nats-Msg-Id")
	}
	other := []events.Event{base, base, base, base, base, base}
	other[0].Seqnum = 8
	other[1].Type = events.Modified
	other[2].Path = "a/b"
	other[3].Root = readCap(t, 3)
	other[4].Type, other[4].Warning = events.Warning, events.WarnUncoordinated
	other[5].Type, other[5].Warning = events.Warning, events.WarnUnrecoverableNewer
	seen := map[string]int{id(base): -1}
	for i, e := range other {
		if j, dup := seen[id(e)]; dup {
			t.Errorf("events %d and %d share the Nats-Msg-Id %s", i, j, id(e))
		}
		seen[id(e)] = i
	}
	if got := id(base); !strings.HasPrefix(got, "tw1-") || len(got) > 100 {
		t.Errorf("msg id %q", got)
	}
}

// TestFullBufferBlocksKeepsOldestAndRecovers: with no server, the
// buffer fills, Publish blocks and says so; once the server starts,
// every event is published, in order, none skipped.
func TestFullBufferBlocksKeepsOldestAndRecovers(t *testing.T) {
	srv := natstest.Start(t)
	srv.Stop()
	root := readCap(t, 1)
	s, logs := newSink(t, natsout.Options{URL: srv.URL(), Stream: "W", Buffer: 3})
	published := make(chan uint64, 10)
	go func() {
		for seq := uint64(1); seq <= 8; seq++ {
			s.Publish(context.Background(), changed(root, seq, ""))
			published <- seq
		}
		close(published)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "NATS buffer full") {
		if time.Now().After(deadline) {
			t.Fatalf("no 'buffer full' in the log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(published); n > 4 { // 3 buffered + 1 being published
		t.Fatalf("Publish returned %d times with the buffer full", n)
	}
	srv.Restart()
	for range published {
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(t, "W")
	if len(msgs) != 8 {
		t.Fatalf("stream holds %d messages, want 8", len(msgs))
	}
	for i, m := range msgs {
		if got := m.Header.Get(natsout.HeaderSeqnum); got != fmt.Sprint(i+1) {
			t.Errorf("message %d has seqnum %s", i, got)
		}
	}
	if !strings.Contains(logs.String(), "NATS buffer has room again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// TestServerRestartLosesNothing stops the server between publishes and
// checks the file store holds every event once.
func TestServerRestartLosesNothing(t *testing.T) {
	srv := natstest.Start(t)
	root := readCap(t, 1)
	s, logs := newSink(t, natsout.Options{URL: srv.URL(), Stream: "W"})
	for seq := uint64(1); seq <= 3; seq++ {
		s.Publish(context.Background(), changed(root, seq, ""))
	}
	srv.WaitMessages(t, "W", 3)
	srv.Stop()
	for seq := uint64(4); seq <= 6; seq++ {
		s.Publish(context.Background(), changed(root, seq, ""))
	}
	time.Sleep(200 * time.Millisecond) // let publishes fail against the stopped server
	srv.Restart()
	if err := s.Close(); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	if msgs := srv.Messages(t, "W"); len(msgs) != 6 {
		t.Fatalf("stream holds %d messages after the restart, want 6", len(msgs))
	}
	if !strings.Contains(logs.String(), "retrying until it succeeds") {
		t.Errorf("the failed publishes were not logged:\n%s", logs.String())
	}
}

func TestCloseReportsUnpublished(t *testing.T) {
	srv := natstest.Start(t)
	srv.Stop()
	s, logs := newSink(t, natsout.Options{URL: srv.URL(), Stream: "W", Grace: 300 * time.Millisecond})
	s.Publish(context.Background(), changed(readCap(t, 1), 2, ""))
	s.Publish(context.Background(), changed(readCap(t, 1), 3, ""))
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), "2 events were not published") {
		t.Errorf("Close: %v", err)
	}
	if !strings.Contains(logs.String(), "NOT published") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestStreamOfOtherSubjectsIsAnError(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "W", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	_, err = natsout.New(context.Background(), natsout.Options{URL: srv.URL(), Stream: "W"})
	if err == nil || !strings.Contains(err.Error(), "does not take the subjects tahoe.watch.>") {
		t.Errorf("New: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "x.creds")
	for _, o := range []natsout.Options{
		{URL: ""},
		{URL: "http://127.0.0.1:4222"},
		{URL: "nats://127.0.0.1:4222", Stream: "a.b"},
		{URL: "nats://127.0.0.1:4222", Subject: "a.*"},
		{URL: "nats://127.0.0.1:4222", Creds: creds},
		{URL: "nats://127.0.0.1:4222", Buffer: -1},
		{URL: "nats://127.0.0.1:4222", Buffer: natsout.MaxBuffer + 1},
	} {
		if _, err := natsout.New(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestCredsContentsNeverLogged gives a creds file holding a marker the
// server cannot accept, and checks the marker is in no log and no error.
func TestCredsContentsNeverLogged(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	srv := natstest.StartWith(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	const marker = "SUAMARKERSEEDNEVERTOBELOGGED"
	creds := filepath.Join(t.TempDir(), "user.creds")
	body := "-----BEGIN NATS USER JWT-----\neyJmarker" + marker + "\n------END NATS USER JWT------\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + marker + "\n------END USER NKEY SEED------\n"
	if err := os.WriteFile(creds, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	_, err = natsout.New(context.Background(), natsout.Options{URL: srv.URL(), Stream: "W", Creds: creds,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err == nil {
		t.Fatal("a server refusing the creds is not an error at start")
	}
	all := logs.String() + err.Error()
	if strings.Contains(all, marker) {
		t.Errorf("the creds file's contents reached the log or an error:\n%s", all)
	}
	if !strings.Contains(err.Error(), "user.creds") {
		t.Errorf("the error does not name the creds file: %v", err)
	}
}

func TestURLCredentialsRedactedInLogs(t *testing.T) {
	srv := natstest.Start(t)
	srv.Stop()
	url := strings.Replace(srv.URL(), "nats://", "nats://alice:s3cretpw@", 1)
	s, logs := newSink(t, natsout.Options{URL: url, Grace: 100 * time.Millisecond})
	s.Publish(context.Background(), changed(readCap(t, 1), 2, ""))
	err := s.Close()
	if all := logs.String() + fmt.Sprint(err); strings.Contains(all, "s3cretpw") || !strings.Contains(all, "[redacted]@") {
		t.Errorf("log:\n%s", all)
	}
}

// TestWatchersStartingTogetherShareTheStream: watchers that start at once
// (with different settings) race to create the stream; all start.
func TestWatchersStartingTogetherShareTheStream(t *testing.T) {
	srv := natstest.Start(t)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			s, err := natsout.New(context.Background(), natsout.Options{URL: srv.URL(), Stream: "W",
				Duplicates: time.Duration(i+1) * time.Minute})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

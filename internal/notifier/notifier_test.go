package notifier

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

const (
	storage1SPKI     = "cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg"
	storage1Swissnum = "ybfivklbe4gewouzxckbuc6fhlwwf777"
	sdmfSI           = "dqrkoatek6jcaq4mqnlomig4wq"
	sdmfFP           = "ulcoxpkrq6iy3eah5ld6q7dmxre26ahfilbitjughysfwtfmkjga"
	dataOffset       = 468
)

// storageNode copies storage1's node directory and lays its shares out
// under storage/shares, as a Tahoe storage node keeps them.
func storageNode(t testing.TB) string {
	t.Helper()
	base := filepath.Join(t.TempDir(), "storage1")
	if err := os.CopyFS(base, os.DirFS(testutil.Testdata(t, "grid", "nodes", "storage1"))); err != nil {
		t.Fatal(err)
	}
	shares := filepath.Join(base, "storage", "shares")
	if err := os.CopyFS(shares, os.DirFS(testutil.Testdata(t, "grid", "shares", "storage1"))); err != nil {
		t.Fatal(err)
	}
	// CopyFS makes read-only copies of read-only files; Tahoe's are writable.
	filepath.WalkDir(shares, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chmod(p, 0o600)
		}
		return nil
	})
	return base
}

// start runs a notifier on base and returns its NURL as read from the
// file it writes.
func start(t testing.TB, base string) (*Notifier, *nurl.NURL) {
	t.Helper()
	n, err := New(Config{BaseDir: base, Settle: 30 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	p := filepath.Join(base, NURLFile)
	var b []byte
	for i := 0; len(b) == 0; i++ {
		if i > 1000 {
			t.Fatal("no NURL file")
		}
		time.Sleep(5 * time.Millisecond)
		b, _ = os.ReadFile(p)
	}
	u, err := nurl.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n, u
}

func dial(t testing.TB, u *nurl.NURL) (*watchproto.Conn, error) {
	t.Helper()
	gc := grid.New(u, nil) // pins the SPKI hash in u
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return watchproto.Dial(ctx, strings.Replace(gc.URL(watchproto.Path), "https://", "wss://", 1),
		watchproto.DialOptions{HTTPClient: gc.HTTPClient(), Swissnum: u.Swissnum})
}

func sdmfSub(t testing.TB, seq uint64) watchproto.Sub {
	si, _ := base32.Decode(sdmfSI)
	fp, _ := base32.Decode(sdmfFP)
	return watchproto.Sub{SI: si, Fingerprint: fp, Seqnum: seq}
}

func TestIdentityAndAuth(t *testing.T) {
	_, u := start(t, storageNode(t))
	if u.SPKIHash != storage1SPKI || u.Swissnum != storage1Swissnum {
		t.Fatalf("NURL %s", u)
	}
	c, err := dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Subscribe(context.Background(), []watchproto.Sub{sdmfSub(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Refused != "" || len(r.Shares) != 1 || r.Shares[0].Shnum != 0 || !r.Newer {
		t.Fatalf("result %+v", r)
	}
	bad := *u
	bad.Swissnum = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	if _, err := dial(t, &bad); !errkind.Is(err, errkind.Auth) {
		t.Fatalf("wrong swissnum: %v", err)
	}
	bad = *u
	bad.SPKIHash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := dial(t, &bad); err == nil {
		t.Fatal("connected despite a wrong SPKI pin")
	}
}

// tahoeUpdate rewrites share data in place the way Tahoe's storage server
// applies a read-test-write: the container's data length, then the share
// in several partial writes, each through a new file handle.
func tahoeUpdate(t testing.TB, path string, seq uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	n := binary.BigEndian.Uint64(b[84:92])
	data := bytes.Clone(b[dataOffset : dataOffset+n])
	binary.BigEndian.PutUint64(data[1:9], seq)
	copy(data[9:41], bytes.Repeat([]byte{byte(seq)}, 32))
	writeAt := func(off int64, p []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt(p, off); err != nil {
			t.Error(err)
		}
	}
	writeAt(84, b[84:92])
	const chunk = 200
	for off := 0; off < len(data); off += chunk {
		writeAt(dataOffset+int64(off), data[off:min(off+chunk, len(data))])
		time.Sleep(time.Millisecond)
	}
}

func TestOneNoticePerUpdate(t *testing.T) {
	base := storageNode(t)
	n, u := start(t, base)
	c, err := dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(context.Background(), []watchproto.Sub{sdmfSub(t, 0)}); err != nil {
		t.Fatal(err)
	}
	if got := n.fw.WatchList(); len(got) != 1 {
		t.Fatalf("inotify watches %v, want the one share directory", got)
	}
	path := filepath.Join(base, "storage", "shares", sdmfSI[:2], sdmfSI, "0")
	const updates = 5
	done := make(chan struct{})
	go func() { // the "storage server"
		defer close(done)
		for seq := uint64(100); seq < 100+updates; seq++ {
			tahoeUpdate(t, path, seq)
			time.Sleep(150 * time.Millisecond)
		}
	}()
	var got []uint64
	timeout := time.After(10 * time.Second)
	for len(got) < updates {
		select {
		case nt := <-c.Notices():
			got = append(got, nt.Seqnum)
			if !bytes.Equal(nt.Root, bytes.Repeat([]byte{byte(nt.Seqnum)}, 32)) {
				t.Errorf("notice of seqnum %d carries a torn root %x", nt.Seqnum, nt.Root)
			}
		case <-timeout:
			t.Fatalf("notices %v", got)
		}
	}
	<-done
	select {
	case nt := <-c.Notices():
		t.Fatalf("extra notice %+v after %v", nt, got)
	case <-time.After(200 * time.Millisecond):
	}
	for i, s := range got {
		if s != uint64(100+i) {
			t.Fatalf("notices %v, want one per update in order", got)
		}
	}
	if err := c.Unsubscribe(context.Background(), [][]byte{sdmfSub(t, 0).SI}); err != nil {
		t.Fatal(err)
	}
	if got := n.fw.WatchList(); len(got) != 0 {
		t.Fatalf("inotify watches %v left after unsubscribing", got)
	}
}

func TestNotAStorageNode(t *testing.T) {
	empty := t.TempDir()
	client := filepath.Join(t.TempDir(), "client")
	os.CopyFS(client, os.DirFS(testutil.Testdata(t, "grid", "nodes", "client")))
	os.MkdirAll(filepath.Join(client, "private"), 0o700)
	os.WriteFile(filepath.Join(client, "private", "node.pem"), []byte("x"), 0o600)
	for name, tc := range map[string]struct{ dir, want string }{
		"missing":  {filepath.Join(empty, "nope"), "no such file"},
		"empty":    {empty, "not a Tahoe node directory"},
		"a client": {client, "not a storage node"},
	} {
		_, err := New(Config{BaseDir: tc.dir})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errkind.Is(err, errkind.Usage) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "private")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("New created files in a directory it rejected")
	}
}

// BenchmarkSidecarWriteToNotice: from the end of a Tahoe-style in-place
// share update to the notice at a subscriber, with the default settle time.
// Each iteration is one sample: run it with -benchtime 1000x or more for a
// p99 (with fewer it reports the max).
func BenchmarkSidecarWriteToNotice(b *testing.B) {
	base := storageNode(b)
	n, err := New(Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c, err := dial(b, n.NURL())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, []watchproto.Sub{sdmfSub(b, 0)}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(base, "storage", "shares", sdmfSI[:2], sdmfSI, "0")
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		tahoeUpdate(b, path, uint64(1000+i))
		start := time.Now()
		select {
		case <-c.Notices():
		case <-time.After(5 * time.Second):
			b.Fatal("no notice")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat)), "samples")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	if len(lat) >= 1000 { // a p99 of fewer samples is just one of the largest
		b.ReportMetric(ms(lat[(len(lat)-1)*99/100]), "p99-ms")
	} else {
		b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	}
}

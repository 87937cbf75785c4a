package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// One of Tahoe 1.20's SDMF shares in testdata, with its fingerprint.
const (
	metricsShareSI = "dqrkoatek6jcaq4mqnlomig4wq"
	metricsShareFP = "ulcoxpkrq6iy3eah5ld6q7dmxre26ahfilbitjughysfwtfmkjga"
)

// runCommand runs args in process until the test ends and returns its stderr.
func runCommand(t *testing.T, args ...string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errb := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: errb}, args) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("%s exited %d; stderr %s", args[0], code, errb.String())
		}
	})
	return errb
}

// waitFile waits for path to hold a line and returns it.
func waitFile(t *testing.T, path string, stderr *lockedBuffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(path); bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s; stderr %s", path, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scrapeMetrics fetches /metrics from addr as sample line → value.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitMetric scrapes until sample reaches at least want.
func waitMetric(t *testing.T, addr, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrapeMetrics(t, addr)[sample]
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want ≥ %v", sample, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricsShare returns the test share's share data with seqnum seq.
func metricsShare(t *testing.T, seq uint64) []byte {
	t.Helper()
	m, err := container.ParseMutable(testutil.ReadTestdata(t, "grid", "shares", "storage1", metricsShareSI[:2], metricsShareSI, "0"))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(m.Data())
	binary.BigEndian.PutUint64(data[1:9], seq)
	return data
}

// subscribeShare dials n's watch endpoint and subscribes to the test share.
func subscribeShare(t *testing.T, n *nurl.NURL) *watchproto.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := watchproto.DialNURL(ctx, n, grid.PinnedTLSConfig(n.SPKIHash, "test"), watchproto.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	si, _ := base32.Decode(metricsShareSI)
	fp, _ := base32.Decode(metricsShareFP)
	res, err := c.Subscribe(ctx, []watchproto.Sub{{SI: si, Fingerprint: fp, Seqnum: 5}})
	if err != nil || res[0].Refused != "" {
		t.Fatalf("subscribe: %v %+v", err, res)
	}
	return c
}

func waitNotice(t *testing.T, c *watchproto.Conn, seq uint64) {
	t.Helper()
	select {
	case n := <-c.Notices():
		if n.Seqnum != seq {
			t.Fatalf("notice %+v, want seqnum %d", n, seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notice")
	}
}

// TestServeMetrics runs serve with --metrics-listen, drives a write that
// a watch client is told about, and finds it all on /metrics.
func TestServeMetrics(t *testing.T) {
	base := t.TempDir()
	stderr := runCommand(t, "serve", "--base-dir", base, "--metrics-listen", "127.0.0.1:0")
	n := waitNURL(t, base)
	addr := waitFile(t, filepath.Join(base, MetricsAddrFile), stderr)
	if !strings.Contains(stderr.String(), "http://"+addr+"/metrics") {
		t.Errorf("metrics address not logged: %s", stderr.String())
	}
	c := storagetest.NewClient(storagetest.TargetOf(n))
	sec := storagetest.MutableSecrets(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32))
	write := func(seq uint64) {
		data := metricsShare(t, seq)
		body := storagetest.MustCBOR(map[string]any{"read-vector": []any{}, "test-write-vectors": map[uint64]any{
			0: map[string]any{"test": []any{}, "write": []any{map[string]any{"offset": uint64(0), "data": data}}, "new-length": uint64(len(data))}}})
		if status, _, _, err := c.Do("POST", "/storage/v1/mutable/"+metricsShareSI+"/read-test-write", body, sec); err != nil || status != http.StatusOK {
			t.Fatalf("read-test-write: %d %v", status, err)
		}
	}
	write(5)
	w := subscribeShare(t, n)
	write(6)
	waitNotice(t, w, 6)
	waitMetric(t, addr, "tahoe_watch_notices_sent_total", 1)
	got := scrapeMetrics(t, addr)
	for sample, want := range map[string]float64{
		`tahoe_watch_http_requests_total{code="200",endpoint="POST /storage/v1/mutable/{si}/read-test-write"}`: 2,
		`tahoe_watch_watch_connections`:            1,
		`tahoe_watch_watch_subscriptions`:          1,
		`tahoe_watch_notice_latency_seconds_count`: 1,
	} {
		if got[sample] != want {
			t.Errorf("%s = %v, want %v", sample, got[sample], want)
		}
	}
	w.Close()
	waitMetric(t, addr, `tahoe_watch_http_requests_total{code="101",endpoint="/storage/v1/watch"}`, 1)
	if v := scrapeMetrics(t, addr)["tahoe_watch_watch_connections"]; v != 0 {
		t.Errorf("watch connections after close = %v", v)
	}
}

// TestNotifierMetrics runs the sidecar with --metrics-listen on a node
// holding a real share, rewrites the share on disk and finds the watch
// connection, subscription and notice on /metrics.
func TestNotifierMetrics(t *testing.T) {
	base := filepath.Join(t.TempDir(), "node")
	if err := os.CopyFS(base, os.DirFS(testutil.Testdata(t, "grid", "nodes", "storage1"))); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "storage", "shares", metricsShareSI[:2], metricsShareSI)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	share := filepath.Join(dir, "0")
	orig := testutil.ReadTestdata(t, "grid", "shares", "storage1", metricsShareSI[:2], metricsShareSI, "0")
	if err := os.WriteFile(share, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := runCommand(t, "notifier", "--base-dir", base, "--metrics-listen", "127.0.0.1:0")
	n, err := nurl.Parse(waitFile(t, filepath.Join(base, "watch-nurl"), stderr))
	if err != nil {
		t.Fatal(err)
	}
	addr := waitFile(t, filepath.Join(base, NotifierMetricsAddrFile), stderr)
	w := subscribeShare(t, n)
	m, err := container.ParseMutable(orig)
	if err != nil {
		t.Fatal(err)
	}
	seq := binary.BigEndian.Uint64(m.Data()[1:9]) + 1
	if err := m.Write(0, metricsShare(t, seq)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(share, m.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	waitNotice(t, w, seq)
	waitMetric(t, addr, "tahoe_watch_notices_sent_total", 1)
	got := scrapeMetrics(t, addr)
	for _, sample := range []string{"tahoe_watch_watch_connections", "tahoe_watch_watch_subscriptions"} {
		if got[sample] != 1 {
			t.Errorf("%s = %v, want 1", sample, got[sample])
		}
	}
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// stopClean sends SIGTERM and checks the process exits 0.
func stopClean(t *testing.T, p *proc) {
	t.Helper()
	if code := p.stop(t); code != ExitOK {
		t.Fatalf("%v did not exit cleanly on SIGTERM: exit %d\n%s", p.cmd.Args[1:], code, p.errOut.String())
	}
}

// runProc runs a command that should fail and returns its exit code and stderr.
func runProc(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(testBinary(t), args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errb.String()
	}
	return 0, errb.String()
}

// freePort returns a TCP port free on every loopback address right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// readNURLFile waits for a NURL file written by proc p.
func readNURLFile(t *testing.T, path string, p *proc) *nurl.NURL {
	t.Helper()
	n, err := nurl.Parse(waitFile(t, path, p.errOut))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestServeLocationAdvertised: serve listening on every address with
// --location 127.0.0.2:P advertises exactly that, and a client reaches
// the server through it.
func TestServeLocationAdvertised(t *testing.T) {
	base := t.TempDir()
	port := freePort(t)
	loc := fmt.Sprintf("127.0.0.2:%d", port)
	p := startProc(t, nil, "serve", "--base-dir", base, "--listen", fmt.Sprintf("0.0.0.0:%d", port), "--location", loc)
	n := readNURLFile(t, filepath.Join(base, NURLFile), p)
	if len(n.Hints) != 1 || n.Hints[0] != loc {
		t.Fatalf("NURL hints %v, want [%s]", n.Hints, loc)
	}
	c := grid.New(n, nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("client through --location %s: %v", loc, err)
	}
	w, err := watchproto.DialNURL(ctx, n, grid.PinnedTLSConfig(n.SPKIHash, "test"), watchproto.DialOptions{})
	if err != nil {
		t.Fatalf("watch endpoint through --location: %v", err)
	}
	w.Close()
	stopClean(t, p)
	if _, err := os.Stat(filepath.Join(base, NURLFile)); err == nil {
		t.Error("nurl file left behind after a clean exit")
	}
}

// TestServeWildcardWithoutLocationRefused: --listen 0.0.0.0:P or [::]:P
// alone is a usage error and writes no NURL.
func TestServeWildcardWithoutLocationRefused(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "[::]:0"} {
		base := t.TempDir()
		code, stderr := runProc(t, "serve", "--base-dir", base, "--listen", listen)
		if code != ExitUsage || !strings.Contains(stderr, "--location") || strings.Contains(stderr, "goroutine") {
			t.Errorf("--listen %s: exit %d, stderr %q", listen, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(base, NURLFile)); err == nil {
			t.Errorf("--listen %s: a NURL was written", listen)
		}
		if !strings.Contains(stderr, listen[:len(listen)-2]) {
			t.Errorf("--listen %s: the refusal does not name the address given: %q", listen, stderr)
		}
		for _, d := range []string{"private", "storage"} {
			if _, err := os.Stat(filepath.Join(base, d)); err == nil {
				t.Errorf("--listen %s: %s/ was created before the refusal", listen, d)
			}
		}
	}
	for _, loc := range []string{"0.0.0.0:3457", "example.org", "[::]:1", "h:0"} {
		code, stderr := runProc(t, "serve", "--base-dir", t.TempDir(), "--location", loc)
		if code != ExitUsage || !strings.Contains(stderr, loc) {
			t.Errorf("--location %s: exit %d, stderr %q", loc, code, stderr)
		}
	}
}

// TestServeRestartKeepsNURL: a first start without --listen records its
// port; a restart reuses it, so the NURL is identical and a client made
// with the old NURL keeps working, reading what it wrote before.
func TestServeRestartKeepsNURL(t *testing.T) {
	base := t.TempDir()
	p := startProc(t, nil, "serve", "--base-dir", base)
	n1 := readNURLFile(t, filepath.Join(base, NURLFile), p)
	if b, err := os.ReadFile(filepath.Join(base, PortFile)); err != nil || !strings.HasPrefix(string(b), "tcp:") {
		t.Fatalf("%s: %q %v", PortFile, b, err)
	}
	c := storagetest.NewClient(storagetest.TargetOf(n1))
	si := storagetest.RandomSI()
	sec := storagetest.MutableSecrets(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32))
	data := []byte("written before the restart")
	body := storagetest.MustCBOR(map[string]any{"read-vector": []any{}, "test-write-vectors": map[uint64]any{
		0: map[string]any{"test": []any{}, "write": []any{map[string]any{"offset": uint64(0), "data": data}}, "new-length": uint64(len(data))}}})
	if st, _, _, err := c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", body, sec); err != nil || st != http.StatusOK {
		t.Fatalf("write: %d %v", st, err)
	}
	stopClean(t, p)
	p2 := startProc(t, nil, "serve", "--base-dir", base)
	n2 := readNURLFile(t, filepath.Join(base, NURLFile), p2)
	if n2.String() != n1.String() {
		t.Fatalf("NURL changed across a restart:\n%s\n%s", n1.Redacted(), n2.Redacted())
	}
	st, _, got, err := c.Do("GET", "/storage/v1/mutable/"+si+"/0", nil, nil)
	if err != nil || st != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("old client after the restart: %d %q %v", st, got, err)
	}
}

// tahoeNodeWithCfg copies the captured storage1 node and replaces its
// tahoe.cfg with cfg.
func tahoeNodeWithCfg(t *testing.T, cfg string) string {
	t.Helper()
	base := filepath.Join(t.TempDir(), "node")
	if err := os.CopyFS(base, os.DirFS(testutil.Testdata(t, "grid", "nodes", "storage1"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "tahoe.cfg"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return base
}

// jsonLines parses every line of a JSON log, failing on any that is not
// one JSON object.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q (%v)", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestServeHonoursTahoeCfg runs serve on a Tahoe node directory whose
// tahoe.cfg says where to listen (tub.port on every address), what to
// advertise (tub.location on 127.0.0.2), the nickname and a reserved
// space larger than the disk: the NURL carries tub.location, clients
// reach it, the nickname is logged, and immutable allocations are
// refused while the version document offers no space.
func TestServeHonoursTahoeCfg(t *testing.T) {
	port := freePort(t)
	base := tahoeNodeWithCfg(t, fmt.Sprintf("[node]\nnickname = cfg-nick\ntub.port = tcp:%d\ntub.location = tcp:127.0.0.2:%d\n"+
		"[storage]\nenabled = true\nreserved_space = 99999999G\n", port, port))
	p := startProc(t, nil, "serve", "--base-dir", base, "--log-format", "json")
	n := readNURLFile(t, filepath.Join(base, NURLFile), p)
	if want := fmt.Sprintf("127.0.0.2:%d", port); len(n.Hints) != 1 || n.Hints[0] != want {
		t.Fatalf("hints %v, want tub.location's %s", n.Hints, want)
	}
	gc := grid.New(n, nil)
	defer gc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := gc.Version(ctx)
	if err != nil {
		t.Fatalf("version through tub.location: %v", err)
	}
	if v.AvailableSpace != 0 || v.MaximumImmutableShareSize != 0 {
		t.Errorf("version offers %d bytes with a reserve beyond the disk", v.AvailableSpace)
	}
	c := storagetest.NewClient(storagetest.TargetOf(n))
	si := storagetest.RandomSI()
	req := storagetest.MustCBOR(map[string]any{"share-numbers": cbor.Tag{Number: 258, Content: []uint64{0, 1}}, "allocated-size": uint64(1000)})
	sec := []string{storagetest.Secret("lease-renew-secret", bytes.Repeat([]byte{2}, 32)),
		storagetest.Secret("lease-cancel-secret", bytes.Repeat([]byte{3}, 32)), storagetest.Secret("upload-secret", bytes.Repeat([]byte{4}, 32))}
	st, _, body, err := c.Do("POST", "/storage/v1/immutable/"+si, req, sec)
	var alloc struct {
		Allocated cbor.Tag `cbor:"allocated"`
	}
	if err != nil || st != http.StatusOK || cbor.Unmarshal(body, &alloc) != nil {
		t.Fatalf("allocate: %d %x %v", st, body, err)
	}
	if set, _ := alloc.Allocated.Content.([]any); len(set) != 0 {
		t.Errorf("allocated %v below reserved_space", set)
	}
	stopClean(t, p)
	found := false
	for _, l := range jsonLines(t, p.errOut.String()) {
		if l["msg"] == "serving" && l["nickname"] == "cfg-nick" {
			found = true
		}
	}
	if !found {
		t.Errorf("tahoe.cfg's nickname not logged:\n%s", p.errOut.String())
	}
}

// TestServeLogsHoldNoSwissnum drives serve at debug level through every
// kind of traffic (storage requests, a bad Authorization, a watch
// connection, metrics) in both log formats and finds the swissnum
// nowhere; the JSON log parses line by line.
func TestServeLogsHoldNoSwissnum(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			base, _ := realNodeWithShares(t, "storage1")
			p := startProc(t, nil, "serve", "--base-dir", base, "--listen", "127.0.0.1:0", "--log-level", "debug",
				"--log-format", format, "--metrics-listen", "127.0.0.1:0")
			n := readNURLFile(t, filepath.Join(base, NURLFile), p)
			c := storagetest.NewClient(storagetest.TargetOf(n))
			c.Do("GET", "/storage/v1/version", nil, nil)
			c.Do("GET", "/storage/v1/mutable/"+metricsShareSI+"/shares", nil, nil)
			bad := storagetest.NewClient(storagetest.Target{URL: "https://" + n.Hints[0], Swissnum: "wrong", SPKIHash: n.SPKIHash})
			bad.Do("GET", "/storage/v1/version", nil, nil)
			w := subscribeShare(t, n)
			w.Close()
			addr := waitFile(t, filepath.Join(base, MetricsAddrFile), p.errOut)
			scrapeMetrics(t, addr)
			stopClean(t, p)
			log := p.errOut.String()
			if strings.Contains(log, n.Swissnum) || strings.Contains(log, n.String()) {
				t.Fatalf("the swissnum was logged:\n%s", log)
			}
			if !strings.Contains(log, n.Redacted()) {
				t.Errorf("the redacted NURL was not logged:\n%s", log)
			}
			if format == "json" {
				lines := jsonLines(t, log)
				if len(lines) < 3 || lines[0]["level"] == nil {
					t.Errorf("JSON log: %d lines", len(lines))
				}
			}
		})
	}
}

// TestServeHealthAndStaleFiles: /healthz and /readyz answer next to the
// metrics; a clean exit removes metrics-addr and nurl; a start without
// --metrics-listen removes a metrics-addr another run left.
func TestServeHealthAndStaleFiles(t *testing.T) {
	base := t.TempDir()
	p := startProc(t, nil, "serve", "--base-dir", base, "--metrics-listen", "127.0.0.1:0")
	readNURLFile(t, filepath.Join(base, NURLFile), p)
	addr := waitFile(t, filepath.Join(base, MetricsAddrFile), p.errOut)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	if m := scrapeMetrics(t, addr); len(m) == 0 || hasPrefix(m, "tahoe_watch_client_") {
		t.Errorf("serve exports client metrics or nothing: %v", m)
	}
	stopClean(t, p)
	for _, f := range []string{MetricsAddrFile, NURLFile} {
		if _, err := os.Stat(filepath.Join(base, f)); err == nil {
			t.Errorf("%s left behind after a clean exit", f)
		}
	}
	os.WriteFile(filepath.Join(base, MetricsAddrFile), []byte("127.0.0.1:1\n"), 0o600)
	p2 := startProc(t, nil, "serve", "--base-dir", base)
	readNURLFile(t, filepath.Join(base, NURLFile), p2)
	if _, err := os.Stat(filepath.Join(base, MetricsAddrFile)); err == nil {
		t.Error("a stale metrics-addr survived a start without --metrics-listen")
	}
}

func hasPrefix(m map[string]float64, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// TestNotifierDeployment: the sidecar on every address advertises the
// node's tub.location host with its own port, keeps that NURL across a
// restart, logs JSON without the swissnum and applies the per-client
// watch limits.
func TestNotifierDeployment(t *testing.T) {
	base := tahoeNodeWithCfg(t, "[node]\nnickname = n1\ntub.port = tcp:20101:interface=127.0.0.1\ntub.location = tcp:127.0.0.2:20101\n[storage]\nenabled = true\n")
	os.MkdirAll(filepath.Join(base, "storage", "shares"), 0o700)
	port := freePort(t)
	args := []string{"notifier", "--base-dir", base, "--listen", fmt.Sprintf("0.0.0.0:%d", port), "--log-format", "json",
		"--log-level", "debug", "--watch-max-conns-per-client", "1"}
	p := startProc(t, nil, args...)
	n := readNURLFile(t, filepath.Join(base, "watch-nurl"), p)
	if want := "127.0.0.2:" + strconv.Itoa(port); len(n.Hints) != 1 || n.Hints[0] != want {
		t.Fatalf("sidecar hints %v, want %s", n.Hints, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := watchproto.DialNURL(ctx, n, grid.PinnedTLSConfig(n.SPKIHash, "test"), watchproto.DialOptions{})
	if err != nil {
		t.Fatalf("dial the sidecar through its advertised hint: %v", err)
	}
	_, err = watchproto.DialNURL(ctx, n, grid.PinnedTLSConfig(n.SPKIHash, "test"), watchproto.DialOptions{})
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("second connection with --watch-max-conns-per-client 1: %v", err)
	}
	first.Close()
	stopClean(t, p)
	if _, err := os.Stat(filepath.Join(base, "watch-nurl")); err == nil {
		t.Error("watch-nurl left behind after a clean exit")
	}
	log := p.errOut.String()
	jsonLines(t, log)
	if strings.Contains(log, n.Swissnum) {
		t.Fatalf("the swissnum was logged:\n%s", log)
	}
	if !strings.Contains(log, "127.0.0.2") || !strings.Contains(log, "limit") {
		t.Errorf("refusal not logged naming the client:\n%s", log)
	}

	noLoc := tahoeNodeWithCfg(t, "[node]\ntub.port = tcp:20101\n[storage]\nenabled = true\n")
	os.MkdirAll(filepath.Join(noLoc, "storage", "shares"), 0o700)
	if code, stderr := runProc(t, "notifier", "--base-dir", noLoc, "--listen", "0.0.0.0:0"); code != ExitUsage || !strings.Contains(stderr, "--location") {
		t.Errorf("sidecar on every address with nothing to advertise: exit %d, %q", code, stderr)
	}
}

// TestNotifierRestartKeepsNURL: without --listen the sidecar records its
// port, so its watch NURL survives a restart.
func TestNotifierRestartKeepsNURL(t *testing.T) {
	base := tahoeNodeWithCfg(t, "[node]\ntub.port = tcp:20101:interface=127.0.0.1\n")
	os.MkdirAll(filepath.Join(base, "storage", "shares"), 0o700)
	p := startProc(t, nil, "notifier", "--base-dir", base)
	n1 := readNURLFile(t, filepath.Join(base, "watch-nurl"), p)
	stopClean(t, p)
	stale := filepath.Join(base, NotifierMetricsAddrFile)
	os.WriteFile(stale, []byte("127.0.0.1:1\n"), 0o600)
	p2 := startProc(t, nil, "notifier", "--base-dir", base)
	n2 := readNURLFile(t, filepath.Join(base, "watch-nurl"), p2)
	if n1.String() != n2.String() {
		t.Fatalf("watch NURL changed across a restart: %s, %s", n1.Redacted(), n2.Redacted())
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale watch-metrics-addr survived a start without --metrics-listen")
	}
}

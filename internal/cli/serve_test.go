package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// realNodeWithShares copies the captured storage1 node and lays out
// real share files under its storage/shares: storage1's own, and the ten
// old SDMF shares.
func realNodeWithShares(t *testing.T, storageN string) (base string, files map[string][]byte) {
	t.Helper()
	base = t.TempDir()
	if err := os.CopyFS(base, os.DirFS(testutil.Testdata(t, "grid", "nodes", "storage1"))); err != nil {
		t.Fatal(err)
	}
	shares := filepath.Join(base, "storage", "shares")
	if err := os.CopyFS(shares, os.DirFS(testutil.Testdata(t, "grid", "shares", storageN))); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cap    string            `json:"cap"`
		Shares map[string]string `json:"shares_base64"`
	}
	if err := json.Unmarshal(testutil.ReadTestdata(t, "sdmf-old-shares.json"), &doc); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(doc.Cap, ":")
	wk, err := base32.Decode(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	si := base32.Encode(hashes.SSKStorageIndex(hashes.SSKReadkey(wk)))
	dir := filepath.Join(shares, si[:2], si)
	os.MkdirAll(dir, 0o700)
	for n, s := range doc.Shares {
		b, _ := base64.StdEncoding.DecodeString(s)
		os.WriteFile(filepath.Join(dir, n), b, 0o600)
	}
	files = map[string][]byte{}
	filepath.WalkDir(shares, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[p], _ = os.ReadFile(p)
		}
		return err
	})
	if len(files) < 12 {
		t.Fatalf("only %d share files laid out", len(files))
	}
	return base, files
}

// waitNURL waits for serve to publish its NURL.
func waitNURL(t *testing.T, base string) *nurl.NURL {
	t.Helper()
	for range 500 {
		if b, err := os.ReadFile(filepath.Join(base, "nurl")); err == nil {
			n, err := nurl.Parse(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("serve never wrote its NURL")
	return nil
}

func TestServeRealNodeServesSharesByteExact(t *testing.T) {
	for i := 1; i <= 5; i++ {
		t.Run(fmt.Sprintf("storage%d", i), func(t *testing.T) { serveByteExact(t, fmt.Sprintf("storage%d", i)) })
	}
}

func serveByteExact(t *testing.T, storageN string) {
	base, files := realNodeWithShares(t, storageN)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveRun(ctx, &serveOptions{baseDir: base, listen: "127.0.0.1:0", logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	}()
	n := waitNURL(t, base)
	if n.SPKIHash != "cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg" || n.Swissnum != "ybfivklbe4gewouzxckbuc6fhlwwf777" {
		t.Fatalf("NURL %s does not carry the node's identity", n.Redacted())
	}
	c := storagetest.NewClient(storagetest.TargetOf(n))
	bySI := map[string][]int{}
	for p, raw := range files {
		si, shnum := filepath.Base(filepath.Dir(p)), filepath.Base(p)
		n, _ := strconv.Atoi(shnum)
		bySI[si] = append(bySI[si], n)
		sh, err := container.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		kind, want := "mutable", []byte(nil)
		if sh.Mutable != nil {
			want = sh.Mutable.Data()
		} else {
			kind, want = "immutable", sh.Immutable.Data
		}
		st, _, body, err := c.Do("GET", fmt.Sprintf("/storage/v1/%s/%s/%s", kind, si, shnum), nil, nil)
		if err != nil || st != http.StatusOK || !bytes.Equal(body, want) {
			t.Fatalf("%s share %s/%s: status %d, %d bytes, want %d (%v)", kind, si, shnum, st, len(body), len(want), err)
		}
		st, _, _, _ = c.Do("GET", fmt.Sprintf("/storage/v1/%s/%s/%s", kind, si, shnum), nil, nil, "Range: bytes=1-3")
		if st != http.StatusPartialContent {
			t.Fatalf("range read of %s: %d", p, st)
		}
		st, _, list, _ := c.Do("GET", fmt.Sprintf("/storage/v1/%s/%s/shares", kind, si), nil, nil)
		var set cbor.Tag
		if st != http.StatusOK || cbor.Unmarshal(list, &set) != nil || set.Number != 258 {
			t.Fatalf("listing %s %s: %d %x", kind, si, st, list)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	for p, raw := range files { // serving and listing must not touch the files
		if b, _ := os.ReadFile(p); !bytes.Equal(b, raw) {
			t.Fatalf("%s changed on disk", p)
		}
	}
}

func TestServeUsageErrors(t *testing.T) {
	code, _, errOut := run(t, "serve")
	if code != ExitUsage || !strings.Contains(errOut, "--base-dir") {
		t.Errorf("no base dir: %d %q", code, errOut)
	}
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "private"), 0o700)
	os.WriteFile(filepath.Join(base, "private", "node.pem"), []byte("junk"), 0o600)
	code, _, errOut = run(t, "serve", "--base-dir", base)
	if code != ExitUsage || !strings.Contains(errOut, "node.pem") || strings.Contains(errOut, "goroutine") {
		t.Errorf("bad node.pem: %d %q", code, errOut)
	}
}

// TestServeSurvivesKill runs serve as a real process, SIGKILLs it during
// a stream of multi-share read-test-writes, restarts it and checks every
// share on disk parses and that all shares of the index agree (journaled
// all-or-nothing writes).
func TestServeSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tahoe-watch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tahoe-watch/tahoe-watch/cmd/tahoe-watch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	base := t.TempDir()
	si := storagetest.RandomSI()
	we, renew, cancel := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	for round := range 3 {
		cmd := startServe(t, bin, base)
		c := storagetest.NewClient(storagetest.TargetOf(waitNURL(t, base)))
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					payload := bytes.Repeat([]byte(fmt.Sprintf("r%d-w%d-i%d;", round, w, i)), 2000+i%500)
					tw := map[uint64]any{}
					for sh := range 3 {
						tw[uint64(sh)] = map[string]any{"test": []any{}, "write": []any{map[string]any{"offset": uint64(0), "data": payload}}, "new-length": uint64(len(payload))}
					}
					body := storagetest.MustCBOR(map[string]any{"test-write-vectors": tw, "read-vector": []any{}})
					if _, _, _, err := c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", body, storagetest.MutableSecrets(we, renew, cancel)); err != nil {
						return // the server was killed
					}
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		wg.Wait()
		os.Remove(filepath.Join(base, "nurl"))
	}
	cmd := startServe(t, bin, base) // recovery happens at start
	waitNURL(t, base)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly on SIGTERM: %v", err)
	}
	checkSharesConsistent(t, filepath.Join(base, "storage", "shares", si[:2], si))
}

func startServe(t *testing.T, bin, base string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--base-dir", base)
	cmd.Stderr = &bytes.Buffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd
}

func checkSharesConsistent(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strconv.Atoi(e.Name()); err != nil {
			t.Fatalf("journal leftover %s after restart", e.Name())
		}
		m, err := container.ParseMutable(raw)
		if err != nil {
			t.Fatalf("share %s does not parse after kill: %v", e.Name(), err)
		}
		if first == nil {
			first = m.Data()
		} else if !bytes.Equal(first, m.Data()) {
			t.Fatalf("share %s differs from share 0: a read-test-write was applied partially", e.Name())
		}
	}
	if len(ents) != 3 || len(first) == 0 {
		t.Fatalf("%d shares, %d bytes: the writes never landed", len(ents), len(first))
	}
}

package publish_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// memoryBound is the peak resident memory a publish or read of any size
// may take.
const memoryBound = 160 << 20

// bigFile is a memory test's file: its size and encoding. Tahoe's
// mutable share limit (69.1 MB) sets the smallest k for a size.
type bigFile struct {
	size int64
	k, n int
}

// TestPublishBigMDMFMemory publishes a 256 MiB MDMF file, 4-of-5 (67 MB
// shares), from a stream in one child process and reads it back in
// another, each under 160 MiB of peak RSS, and checks the bytes read are
// the bytes written.
func TestPublishBigMDMFMemory(t *testing.T) {
	testBigMemory(t, "TestPublishBigMDMFMemory", bigFile{256 << 20, 4, 5})
}

// TestPublish1GiBMDMFMemory is the same for 1 GiB, 16-of-20 on the five
// servers (four 67 MB shares each): memory does not grow with the size.
func TestPublish1GiBMDMFMemory(t *testing.T) {
	testBigMemory(t, "TestPublish1GiBMDMFMemory", bigFile{1 << 30, 16, 20})
}

func testBigMemory(t *testing.T, name string, f bigFile) {
	if arg, ok := testutil.MemoryChild(); ok {
		memoryChild(t, f, arg)
		return
	}
	if testing.Short() || raceEnabled {
		t.Skipf("writes %d MiB of shares; runs without -race and -short (scripts/test's memory step)", f.size*int64(f.n)/int64(f.k)>>20)
	}
	g := testgrid.New(t, 5)
	var nurls []string
	for _, s := range g.Servers {
		nurls = append(nurls, s.NURL().String())
	}
	out := runChild(t, name, f, "publish", nurls)
	c := regexp.MustCompile(`cap=(\S+)`).FindStringSubmatch(out)
	if c == nil {
		t.Fatalf("child printed no cap:\n%s", out)
	}
	out = runChild(t, name, f, "read "+c[1], nurls)
	h := sha256.New()
	io.Copy(h, testutil.Pattern(f.size).Reader())
	if !strings.Contains(out, "sha256="+hex.EncodeToString(h.Sum(nil))) {
		t.Fatalf("read back other bytes than written:\n%s", out)
	}
}

// runChild runs one step of test name in a child process and checks its
// peak RSS.
func runChild(t *testing.T, name string, f bigFile, step string, nurls []string) string {
	t.Helper()
	out, peak := testutil.RunMemoryChild(t, name, step+"|"+strings.Join(nurls, " "))
	t.Logf("peak RSS, %s of %d MiB: %.1f MiB", strings.Fields(step)[0], f.size>>20, float64(peak)/(1<<20))
	if peak > memoryBound {
		t.Fatalf("peak RSS %d MiB, want <= %d MiB", peak>>20, memoryBound>>20)
	}
	return out
}

func memoryChild(t *testing.T, bf bigFile, arg string) {
	f := strings.Split(arg, "|")
	var infos []*grid.ServerInfo
	for _, s := range strings.Fields(f[1]) {
		n, err := nurl.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, grid.FromNURL(n))
	}
	g := grid.NewGrid(infos)
	ctx := context.Background()
	if f[0] == "publish" {
		p := newPublisher(t, g, 5)
		res, err := p.CreateFrom(ctx, otherKey(t), testutil.Pattern(bf.size).Reader(), bf.size, publish.Params{Format: cap.MDMF, K: bf.k, N: bf.n})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cap=%s", res.Cap.ReadOnly())
	} else {
		r := retrieve.NewReader(g, nil, nil)
		defer r.Close()
		h := sha256.New()
		if _, err := r.Cat(ctx, h, cap.MustParse(strings.Fields(f[0])[1])); err != nil {
			t.Fatal(err)
		}
		t.Logf("sha256=%x", h.Sum(nil))
	}
	testutil.LogPeakRSS(t)
}

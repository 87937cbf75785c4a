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

// bigSize is the file of the memory test: 256 MiB, 4-of-5 (67 MB shares,
// just under Tahoe's 69.1 MB mutable share limit). A 1 GiB MDMF file
// needs k >= 16 to fit that limit and takes minutes on a loaded CI
// machine; BenchmarkPublishMDMF1GiB measures it.
const bigSize = 256 << 20

// memoryBound is the peak resident memory a publish or read of any size
// may take.
const memoryBound = 160 << 20

// TestPublishBigMDMFMemory publishes a 256 MiB MDMF file from a stream in
// one child process and reads it back in another, each under 160 MiB of
// peak RSS, and checks the bytes read are the bytes written.
func TestPublishBigMDMFMemory(t *testing.T) {
	if arg, ok := testutil.MemoryChild(); ok {
		memoryChild(t, arg)
		return
	}
	if testing.Short() || raceEnabled {
		t.Skip("writes 320 MiB of shares; runs without -race and -short (scripts/test's memory step)")
	}
	g := testgrid.New(t, 5)
	var nurls []string
	for _, s := range g.Servers {
		nurls = append(nurls, s.NURL().String())
	}
	out := runChild(t, "publish", nurls)
	c := regexp.MustCompile(`cap=(\S+)`).FindStringSubmatch(out)
	if c == nil {
		t.Fatalf("child printed no cap:\n%s", out)
	}
	out = runChild(t, "read "+c[1], nurls)
	h := sha256.New()
	io.Copy(h, testutil.Pattern(bigSize).Reader())
	if !strings.Contains(out, "sha256="+hex.EncodeToString(h.Sum(nil))) {
		t.Fatalf("read back other bytes than written:\n%s", out)
	}
}

// runChild runs one step in a child process and checks its peak RSS.
func runChild(t *testing.T, step string, nurls []string) string {
	t.Helper()
	out, peak := testutil.RunMemoryChild(t, "TestPublishBigMDMFMemory", step+"|"+strings.Join(nurls, " "))
	t.Logf("peak RSS, %s of %d MiB: %.1f MiB", strings.Fields(step)[0], bigSize>>20, float64(peak)/(1<<20))
	if peak > memoryBound {
		t.Fatalf("peak RSS %d MiB, want <= %d MiB", peak>>20, memoryBound>>20)
	}
	return out
}

func memoryChild(t *testing.T, arg string) {
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
		res, err := p.CreateFrom(ctx, otherKey(t), testutil.Pattern(bigSize).Reader(), bigSize, publish.Params{Format: cap.MDMF, K: 4, N: 5})
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

package upload_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// bigSize is the file of the memory test: 256 MiB, 4-of-5 (64 MiB shares,
// 320 MiB written).
const bigSize = 256 << 20

// memoryBound is the peak resident memory an upload of any size may take.
const memoryBound = 160 << 20

// TestUploadBigCHKMemory uploads a 256 MiB CHK file in a child process
// under 160 MiB of peak RSS and reads it back.
func TestUploadBigCHKMemory(t *testing.T) {
	if arg, ok := testutil.MemoryChild(); ok {
		memoryChild(t, arg)
		return
	}
	if testing.Short() || raceEnabled {
		t.Skip("writes 320 MiB of shares; runs without -race and -short (scripts/test's memory step)")
	}
	tg := testgrid.New(t, 5)
	var nurls []string
	for _, s := range tg.Servers {
		nurls = append(nurls, s.NURL().String())
	}
	out, peak := testutil.RunMemoryChild(t, "TestUploadBigCHKMemory", strings.Join(nurls, " "))
	c := regexp.MustCompile(`cap=(\S+)`).FindStringSubmatch(out)
	if c == nil {
		t.Fatalf("child reported no cap:\n%s", out)
	}
	t.Logf("peak RSS, CHK upload of %d MiB: %.1f MiB", bigSize>>20, float64(peak)/(1<<20))
	if peak > memoryBound {
		t.Fatalf("peak RSS %d MiB, want <= %d MiB", peak>>20, memoryBound>>20)
	}
	r := retrieve.NewReader(tg.Grid(), nil, nil)
	defer r.Close()
	got, want := sha256.New(), sha256.New()
	if _, err := r.Cat(context.Background(), got, cap.MustParse(c[1])); err != nil {
		t.Fatal(err)
	}
	io.Copy(want, testutil.Pattern(bigSize).Reader())
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back sha256 %s, wrote %s", hex.EncodeToString(got.Sum(nil)), hex.EncodeToString(want.Sum(nil)))
	}
}

func memoryChild(t *testing.T, arg string) {
	var infos []*grid.ServerInfo
	for _, s := range strings.Fields(arg) {
		n, err := nurl.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, grid.FromNURL(n))
	}
	u := newUploader(t, grid.NewGrid(infos), 4, 4, 5)
	res, err := u.UploadFrom(context.Background(), testutil.Pattern(bigSize), bigSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cap=%s", res.Cap)
	testutil.LogPeakRSS(t)
}

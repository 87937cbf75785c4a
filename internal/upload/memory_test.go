package upload_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// bigSize is the file of the memory test: 256 MiB, 4-of-5 (64 MiB shares,
// 320 MiB written).
const bigSize = 256 << 20

// memoryBound is the peak resident memory an upload of any size may take.
const memoryBound = 160 << 20

const memChildEnv = "UPLOAD_MEMORY_CHILD"

// patternAt is n deterministic bytes, read at any offset, holding none.
type patternAt struct{ n int64 }

func (p patternAt) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-off)]
	for i := range b {
		x := off + int64(i)
		b[i] = byte(x*131 + x>>11)
	}
	if off+int64(len(b)) == p.n {
		return len(b), io.EOF
	}
	return len(b), nil
}

// TestUploadBigCHKMemory uploads a 256 MiB CHK file in a child process
// under 160 MiB of peak RSS and reads it back.
func TestUploadBigCHKMemory(t *testing.T) {
	if os.Getenv(memChildEnv) != "" {
		memoryChild(t)
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
	cmd := exec.Command(os.Args[0], "-test.run=^TestUploadBigCHKMemory$", "-test.v")
	cmd.Env = append(os.Environ(), memChildEnv+"="+strings.Join(nurls, " "), "GOGC=50")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// The child reports its own VmHWM: its rusage would count the
	// parent's memory, which the vfork before exec shares.
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(out)
	c := regexp.MustCompile(`cap=(\S+)`).FindSubmatch(out)
	if m == nil || c == nil {
		t.Fatalf("child reported no VmHWM or cap:\n%s", out)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	t.Logf("peak RSS, CHK upload of %d MiB: %.1f MiB", bigSize>>20, float64(kb)/1024)
	if kb<<10 > memoryBound {
		t.Fatalf("peak RSS %d MiB, want <= %d MiB", kb>>10, memoryBound>>20)
	}
	r := retrieve.NewReader(tg.Grid(), nil, nil)
	defer r.Close()
	got, want := sha256.New(), sha256.New()
	if _, err := r.Cat(context.Background(), got, cap.MustParse(string(c[1]))); err != nil {
		t.Fatal(err)
	}
	io.Copy(want, io.NewSectionReader(patternAt{bigSize}, 0, bigSize))
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back sha256 %s, wrote %s", hex.EncodeToString(got.Sum(nil)), hex.EncodeToString(want.Sum(nil)))
	}
}

func memoryChild(t *testing.T) {
	var infos []*grid.ServerInfo
	for _, s := range strings.Fields(os.Getenv(memChildEnv)) {
		n, err := nurl.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, grid.FromNURL(n))
	}
	u := newUploader(t, grid.NewGrid(infos), 4, 4, 5)
	res, err := u.UploadFrom(context.Background(), patternAt{bigSize}, bigSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cap=%s", res.Cap)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range bytes.Split(status, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmHWM:")) {
			t.Log(string(line))
		}
	}
}

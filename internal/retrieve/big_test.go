package retrieve

import (
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// bigMDMF stores an MDMF file of size bytes, k-of-n, on g (share i on
// server i mod len(servers)) and returns its write cap.
func bigMDMF(t testing.TB, g *testgrid.Grid, size, k, n int) *cap.Mutable {
	return bigMutable(t, g, cap.MDMF, size, k, n)
}

// bigMutable is bigMDMF for either format.
func bigMutable(t testing.TB, g *testgrid.Grid, format cap.Format, size, k, n int) *cap.Mutable {
	t.Helper()
	priv := testgrid.Key(t)
	c := cap.NewMutable(format, false, priv)
	plain := make([]byte, size)
	for i := range plain {
		plain[i] = byte(i*7 + i>>13)
	}
	enc := testgrid.Encode(t, priv, c, plain, 1, k, n)
	plain = nil
	for i := range enc.Shares {
		g.PutVersion(c, enc, map[int]int{i: i % len(g.Servers)})
		enc.Shares[i] = nil // let the share go as soon as it is on disk
	}
	return c
}

// BenchmarkRetrieveMDMF64MiB reads a 64 MiB 3-of-5 MDMF file from five
// loopback servers (map update included). cpu-ms/op is the CPU time of
// client and servers together (they share this process).
func BenchmarkRetrieveMDMF64MiB(b *testing.B) {
	const size = 64 << 20
	g := testgrid.New(b, 5)
	c := bigMDMF(b, g, size, 3, 5)
	r := NewReader(g.Grid(), nil, nil)
	defer r.Close()
	b.SetBytes(size)
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := r.Cat(context.Background(), io.Discard, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// TestCatBigMDMFMemory reads a 256 MiB MDMF file in a child process and
// checks its peak resident memory stays under 64 MiB.
func TestCatBigMDMFMemory(t *testing.T) {
	if arg, ok := testutil.MemoryChild(); ok {
		catInChild(t, arg)
		return
	}
	if testing.Short() {
		t.Skip("encodes 256 MiB; skipped with -short")
	}
	if raceEnabled {
		t.Skip("the race detector multiplies memory use; run without -race")
	}
	g := testgrid.New(t, 4)
	c := bigMDMF(t, g, 256<<20, 4, 4)
	var nurls []string
	for _, s := range g.Servers {
		nurls = append(nurls, s.NURL().String())
	}
	_, peak := testutil.RunMemoryChild(t, "TestCatBigMDMFMemory", c.ReadOnly().String()+" "+strings.Join(nurls, " "))
	t.Logf("peak RSS reading 256 MiB: %.1f MiB", float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Fatalf("peak RSS %d MiB, want < 64 MiB", peak>>20)
	}
}

// catInChild reads the file the parent named and discards it.
func catInChild(t *testing.T, arg string) {
	f := strings.Fields(arg)
	var infos []*grid.ServerInfo
	for _, s := range f[1:] {
		n, err := nurl.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, grid.FromNURL(n))
	}
	r := NewReader(grid.NewGrid(infos), nil, nil)
	defer r.Close()
	n, err := countingCat(r, cap.MustParse(f[0]))
	if err != nil || n != 256<<20 {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	testutil.LogPeakRSS(t)
}

func countingCat(r *Reader, c cap.Cap) (int64, error) {
	w := &counter{}
	_, err := r.Cat(context.Background(), w, c)
	return w.n, err
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestReadsPrimarySharesAmongNearlyFast: servers whose map-update
// latencies differ by less than the fastest one's (noise: handshakes on a
// busy machine) count as equally fast, so the primary shares are read
// and need no erasure decoding; a server several times slower than the
// fastest is still avoided.
func TestReadsPrimarySharesAmongNearlyFast(t *testing.T) {
	g := testgrid.New(t, 5)
	c := bigMDMF(t, g, 300<<10, 3, 5) // share i on server i
	r := newReader(t, g, 0)
	for _, tc := range []struct {
		latency [5]int // ms, of the server holding share i
		want    []int
	}{
		{[5]int{35, 40, 45, 30, 200}, []int{0, 1, 2}},
		{[5]int{200, 40, 45, 30, 35}, []int{1, 2, 3}},
	} {
		m, err := r.Map(context.Background(), c)
		if err != nil || m.Best == nil {
			t.Fatal(err)
		}
		for _, s := range m.Best.Shares {
			s.Server.Latency = time.Duration(tc.latency[s.Num]) * time.Millisecond
		}
		w := &counter{}
		rep, err := Mutable(context.Background(), w, c.Readkey, c.SI, m.Best, nil)
		if err != nil || w.n != 300<<10 {
			t.Fatalf("read %d bytes: %v", w.n, err)
		}
		got := slices.Sorted(maps.Keys(rep.Used))
		if !slices.Equal(got, tc.want) {
			t.Errorf("latencies %v ms: read shares %v, want %v", tc.latency, got, tc.want)
		}
	}
}

// TestReadsSegmentsTooBigToPreallocate reads an SDMF file whose single
// segment and block (1-of-2: both the whole 8.1 MiB file) are larger than
// the buffers made before bytes arrive: the block is read into a growing
// buffer and the segment decoded into its own.
func TestReadsSegmentsTooBigToPreallocate(t *testing.T) {
	const size = maxPrealloc + 100<<10
	g := testgrid.New(t, 2)
	c := bigMutable(t, g, cap.SDMF, size, 1, 2)
	var buf bytes.Buffer
	if _, err := newReader(t, g, 0).Cat(context.Background(), &buf, c); err != nil || buf.Len() != size {
		t.Fatalf("read %d bytes: %v", buf.Len(), err)
	}
	for i, b := range buf.Bytes() {
		if b != byte(i*7+i>>13) {
			t.Fatalf("byte %d differs", i)
		}
	}
}

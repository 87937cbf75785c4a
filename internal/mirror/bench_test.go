package mirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// benchFiles is the size of the benchmark tree: MIRROR_BENCH_FILES
// files (default 1000) of 50 MiB in total, 100 to a directory.
func benchFiles() int {
	if n, err := strconv.Atoi(os.Getenv("MIRROR_BENCH_FILES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// bigTree publishes files CHK files totalling 50 MiB*files/1000 in
// directories of 100 below one root, built with Pack so setup costs one
// publish per directory.
func bigTree(b *testing.B, w *world, files int) (*cap.Mutable, int64) {
	const perDir = 100
	size := 50 << 20 / 1000
	ctx := context.Background()
	var total int64
	var rootEnts []dirnode.Entry
	for d := 0; d*perDir < files; d++ {
		var ents []dirnode.Entry
		for i := d * perDir; i < min(files, (d+1)*perDir); i++ {
			data := make([]byte, size)
			copy(data, fmt.Sprintf("file %d of the benchmark tree", i))
			c := w.upload(b, data)
			ents = append(ents, dirnode.Entry{Name: fmt.Sprintf("f%04d.bin", i), ROCap: c.String()})
			total += int64(size)
		}
		sub := w.packDir(b, ctx, ents)
		rootEnts = append(rootEnts, dirnode.Entry{Name: fmt.Sprintf("d%02d", d), ROCap: sub.ReadOnly().String()})
	}
	return w.packDir(b, ctx, rootEnts), total
}

func (w *world) packDir(b testing.TB, ctx context.Context, ents []dirnode.Entry) *cap.Mutable {
	raw, err := dirnode.Pack(ents, nil)
	if err != nil {
		b.Fatal(err)
	}
	res, err := w.pub.Create(ctx, key(b), raw, publish.Params{Format: cap.SDMF, Dir: true, K: 3, N: 5})
	if err != nil {
		b.Fatal(err)
	}
	return res.Cap
}

// BenchmarkInitialMirror mirrors a 1,000-file, 50 MiB tree from five
// loopback servers (one mirror per iteration, into a fresh directory).
func BenchmarkInitialMirror(b *testing.B) {
	w := newWorld(b, 5)
	files := benchFiles()
	setup := time.Now()
	root, total := bigTree(b, w, files)
	b.Logf("setup: %d files, %d MiB in %v", files, total>>20, time.Since(setup).Round(time.Millisecond))
	b.SetBytes(total)
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		m := open(b, root, dir, w.g, mirror.Options{Parallel: 8})
		start := time.Now()
		if err := m.Sync(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		m.Close()
	}
	secs := elapsed.Seconds() / float64(b.N)
	b.ReportMetric(float64(files)/secs, "files/s")
	b.ReportMetric(float64(total)/(1<<20)/secs, "MiB/s")
}

// BenchmarkChangeLatency measures, with push, the time from a publish of
// a mutable file in a mirrored directory returning to the new contents
// being in place locally.
func BenchmarkChangeLatency(b *testing.B) {
	w := newWorld(b, 5)
	root := w.mkdir(b)
	f := w.mutableFile(b, []byte("version 0"))
	w.link(b, root, "a/b/f.txt", f)
	dir := b.TempDir()
	m := open(b, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	run(b, m, &recorder{})
	local := filepath.Join(dir, "a", "b", "f.txt")
	waitFor(b, generous, "first mirror", hasContent(local, []byte("version 0")))
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := []byte(fmt.Sprintf("version %d", i+1))
		w.put(b, f, want)
		lat = append(lat, waitFor(b, generous, "change", hasContent(local, want)))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkTwoWayPropagation measures two-way sync from device A to
// device B through the grid: from the end of a local write of a 1 KiB
// file on A (so the default quiet period is included) to the new
// contents being in place on B. Each iteration is one sample; run with
// -benchtime=1000x for percentiles.
func BenchmarkTwoWayPropagation(b *testing.B) {
	w := newWorld(b, 5)
	root := w.mkdir(b)
	a, bb := w.replica(b, root, "a"), w.replica(b, root, "b")
	content := func(i int) string { return fmt.Sprintf("version %d\n%s", i, strings.Repeat("x", 1<<10)) }
	a.write("a/b/f.txt", content(0))
	waitFor(b, generous, "first propagation", hasContent(bb.path("a/b/f.txt"), []byte(content(0))))
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := content(i + 1)
		a.write("a/b/f.txt", want)
		lat = append(lat, waitFor(b, generous, "propagation", hasContent(bb.path("a/b/f.txt"), []byte(want))))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	if len(lat) >= 1000 {
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	}
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

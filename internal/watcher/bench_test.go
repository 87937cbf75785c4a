package watcher_test

import (
	"crypto/rsa"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// reportLatency reports p50 and p99 of ds in milliseconds.
func reportLatency(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	pct := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), name+"-p50-ms")
	b.ReportMetric(pct(0.99), name+"-p99-ms")
}

// benchLatency publishes b.N updates and measures, for each, the time
// from the end of the publish to the verified event (0 when the event
// came first) and from the first hint to the event.
// With jitter, each publish waits a random time below it first, so that
// publishes do not fall into step with the polls.
func benchLatency(b *testing.B, o demo.GridOptions, wo watcher.Options, jitter time.Duration) {
	g := startGrid(b, o)
	p := newPublisher(b, g.Grid())
	c := create(b, p, false, []byte("v1"))
	_, ch := watch(b, g, wo, c)
	var afterPublish, sincePublishStart, sinceHint []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if jitter > 0 {
			time.Sleep(mrand.N(jitter))
		}
		start := time.Now()
		seq := put(b, p, c, []byte(fmt.Sprintf("v%d", i+2)))
		end := time.Now()
		for {
			e := next(b, ch, 30*time.Second)
			if e.Seqnum < seq {
				continue
			}
			got := time.Now()
			afterPublish = append(afterPublish, max(0, got.Sub(end)))
			sincePublishStart = append(sincePublishStart, got.Sub(start))
			sinceHint = append(sinceHint, time.Duration(e.LatencyMS*float64(time.Millisecond)))
			break
		}
	}
	b.StopTimer()
	reportLatency(b, "after-publish", afterPublish)
	reportLatency(b, "since-publish-start", sincePublishStart)
	reportLatency(b, "hint-to-event", sinceHint)
}

// BenchmarkPushLatency: publish-to-event latency with push on a 5-server
// loopback grid. Run with -benchtime 100x.
func BenchmarkPushLatency(b *testing.B) {
	benchLatency(b, demo.GridOptions{}, watcher.Options{Poll: time.Hour}, 0)
}

// BenchmarkPollLatency: the same with every server polled every second.
// Run with -benchtime 20x.
func BenchmarkPollLatency(b *testing.B) {
	benchLatency(b, demo.GridOptions{NoWatch: true}, watcher.Options{Poll: time.Second}, time.Second)
}

// BenchmarkIdleCost counts, at the servers, the GBS requests an idle
// watch of WATCHER_BENCH_N (default 100) planted mutables on 5 servers
// costs per refresh: push (refresh by the acknowledgement) and nopush
// (every server polled). Refresh is shortened to 1 s and Poll set to an
// hour, so every request counted belongs to a refresh.
func BenchmarkIdleCost(b *testing.B) {
	for _, nopush := range []bool{false, true} {
		name := "push"
		if nopush {
			name = "nopush"
		}
		b.Run(name, func(b *testing.B) {
			g := startCountGrid(b, 5)
			caps := plantFiles(b, g.bases(), benchN(b, 100))
			for range b.N {
				idleCost(b, g, caps, watcher.Options{NoPush: nopush, Poll: time.Hour, Refresh: time.Second}, 3)
			}
		})
	}
}

// idleCost watches caps, waits for a first refresh, and reports the GBS
// requests per mutable per server per refresh over the next refreshes.
func idleCost(b *testing.B, g *countGrid, caps []cap.Cap, o watcher.Options, refreshes int) *watcher.Watcher {
	w, _ := watchWithin(b, g, o, 10*time.Minute, caps...)
	waitFor(b, 10*time.Minute, "a first refresh", func() bool { return refreshedAll(w, 1) })
	before := g.reqs()
	n := w.Status().Servers[0].Refreshes
	waitFor(b, 10*time.Minute, "more refreshes", func() bool { return refreshedAll(w, n+refreshes) })
	after := g.reqs()
	var total int64
	for i := range after {
		total += after[i] - before[i]
	}
	b.ReportMetric(float64(total)/float64(len(caps)*len(g.Nodes)*refreshes), "req/mutable/server/refresh")
	return w
}

// benchN reads WATCHER_BENCH_N, or returns def.
func benchN(b *testing.B, def int) int {
	if s := os.Getenv("WATCHER_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return def
}

// benchKeys is how many signing keys plantFiles draws from
// (WATCHER_BENCH_KEYS, default 32): generating an RSA key takes about
// 100 ms, so 10,000 distinct keys would take longer than the benchmark.
func benchKeys(b testing.TB) []*rsa.PrivateKey {
	n := 32
	if s := os.Getenv("WATCHER_BENCH_KEYS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	return genKeys(b, n)
}

// genKeys generates n signing keys.
func genKeys(b testing.TB, n int) []*rsa.PrivateKey {
	keys, err := testgrid.GenerateKeys(b.Context(), n)
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

// plantFiles writes n distinct 3-of-5 mutable files (share i on node i)
// straight into the nodes' share directories (testgrid.PlantMutables:
// each its own write key, storage index, contents and seqnum), signed by
// keys from a pool of benchKeys.
func plantFiles(b testing.TB, bases []string, n int) []cap.Cap {
	return plantFilesWith(b, bases, benchKeys(b), n)
}

// plantFilesWith is plantFiles with the signing keys given.
func plantFilesWith(b testing.TB, bases []string, keys []*rsa.PrivateKey, n int) []cap.Cap {
	caps, err := testgrid.PlantMutables(b.Context(), bases, keys, n)
	if err != nil {
		b.Fatal(err)
	}
	return caps
}

// BenchmarkManyMutables: WATCHER_BENCH_N (default 10,000) planted
// mutables on 5 in-process servers with the default watch limits: the
// time until the watcher is ready (every cap mapped and subscribed on
// every server), the memory it takes, and the GBS requests per mutable
// per server per refresh once idle, counted at the servers. heap-delta
// is the growth of the Go heap (servers' subscription state included),
// rss the whole process (servers included).
func BenchmarkManyMutables(b *testing.B) {
	n := benchN(b, 10000)
	g := startCountGrid(b, 5)
	caps := plantFiles(b, g.bases(), n)
	for range b.N {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		stopProfile := profileStartup(b)
		start, cpu0 := time.Now(), cpuTime()
		// The refresh gives a resubscription of n caps (rate-limited by
		// the servers) time to finish.
		refresh := time.Second + time.Duration(n)*time.Millisecond
		w, _ := watchWithin(b, g, watcher.Options{Poll: time.Hour, Refresh: refresh}, 10*time.Minute, caps...)
		ready, cpu := time.Since(start), cpuTime()-cpu0
		stopProfile()
		heapProfile(b)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(ready.Seconds(), "s-to-ready")
		b.ReportMetric(cpu.Seconds(), "cpu-s-to-ready")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-delta-MB")
		b.ReportMetric(rssMB(), "rss-MB")
		for _, s := range w.Status().Servers {
			if s.Mode != watcher.ModePush || s.Subscribed != n {
				b.Fatalf("server %s: %s with %d subscriptions, want push with %d", s.Name, s.Mode, s.Subscribed, n)
			}
		}
		waitFor(b, 10*time.Minute, "a first refresh", func() bool { return refreshedAll(w, 1) })
		reqs := g.reqs()
		waitFor(b, 10*time.Minute, "two more refreshes", func() bool { return refreshedAll(w, 3) })
		var total int64
		for i, r := range g.reqs() {
			total += r - reqs[i]
		}
		b.ReportMetric(float64(total)/float64(n*len(g.Nodes)*2), "req/mutable/server/refresh")
	}
}

// cpuTime is the CPU time (user and system) the process has used: on a
// shared machine a steadier measure of work than elapsed time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMB reads the process's resident set size.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// profileStartup writes a CPU profile of the startup alone (planting
// excluded) to $WATCHER_BENCH_PROFILE when it is set; the returned
// function stops it.
func profileStartup(b *testing.B) func() {
	path := os.Getenv("WATCHER_BENCH_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// heapProfile writes a heap profile (in use at ready) to
// $WATCHER_BENCH_HEAPPROFILE when it is set.
func heapProfile(b *testing.B) {
	path := os.Getenv("WATCHER_BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

package watcher_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
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

// BenchmarkIdleCost measures the verifications and polls an idle watcher
// makes, scaled to an hour of the default intervals (refresh 5 min, poll
// 60 s), from a run with intervals 300 times shorter. Requests are
// counted as the watcher makes them: a verification is a servermap update
// (one share list and one prefix read per server holding a share); a
// poll is one header read per share; a resubscription is one WebSocket
// message per server, not an HTTP request.
func BenchmarkIdleCost(b *testing.B) {
	for _, push := range []bool{true, false} {
		name := "push"
		if !push {
			name = "poll"
		}
		b.Run(name, func(b *testing.B) {
			const scale = 300
			g := startGrid(b, demo.GridOptions{NoWatch: !push})
			p := newPublisher(b, g.Grid())
			c := create(b, p, false, []byte("v1"))
			w, _ := watch(b, g, watcher.Options{Refresh: watcher.DefaultRefresh / scale, Poll: watcher.DefaultPoll / scale}, c)
			st0 := w.Status()
			b.ResetTimer()
			run := 12 * time.Second // an hour / 300
			time.Sleep(run)
			b.StopTimer()
			st1 := w.Status()
			checks := st1.Caps[0].Checks - st0.Caps[0].Checks
			var polls, pollReqs int
			for i, s := range st1.Servers {
				n := s.Polls - st0.Servers[i].Polls
				polls += n
				pollReqs += n * 1 // one share per server: 3-of-5 over 5 servers
			}
			mapReqs := checks * 2 * len(g.Nodes)
			hour := float64(time.Hour) / float64(run*scale)
			b.ReportMetric(float64(checks)*hour, "verifications/hour")
			b.ReportMetric(float64(mapReqs+pollReqs)*hour, "requests/mutable/hour")
		})
	}
}

// benchKeys is how many signing keys plantFiles draws from
// (WATCHER_BENCH_KEYS, default 32): generating an RSA key takes about
// 100 ms, so 10,000 distinct keys would take longer than the benchmark.
func benchKeys(b *testing.B) []*rsa.PrivateKey {
	n := 32
	if s := os.Getenv("WATCHER_BENCH_KEYS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	keys := make([]*rsa.PrivateKey, n)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range keys {
		g.Go(func() (err error) { keys[i], err = rsakey.Generate(); return err })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return keys
}

// plantFiles writes n distinct 3-of-5 mutable files (share i on node i)
// straight into the nodes' share directories, as publishing them would
// leave them but without a publish's round trips. Every file has its own
// write key (so its own storage index), contents and seqnum, and so its
// own signed prefix and signature; the signing keys come from a pool of
// benchKeys (the fingerprint in each cap is its key's).
func plantFiles(b *testing.B, g *demo.Grid, n int) []cap.Cap {
	keys := benchKeys(b)
	caps := make([]cap.Cap, n)
	var eg errgroup.Group
	eg.SetLimit(runtime.GOMAXPROCS(0))
	for j := range n {
		eg.Go(func() error {
			priv := keys[j%len(keys)]
			fp := hashes.SSKPubkeyFingerprint(rsakey.PublicDER(&priv.PublicKey))
			wk := make([]byte, cap.KeyLen)
			rand.Read(wk)
			c := cap.NewMutableFromKeys(cap.SDMF, false, wk, fp)
			enc, err := mutable.Encode(priv, []byte(fmt.Sprintf("planted file %d", j)),
				mutable.Params{Version: mutable.SDMF, K: 3, N: 5, Seqnum: uint64(1 + j%97)})
			if err != nil {
				return err
			}
			caps[j] = c.ReadOnly()
			si := base32.Encode(c.SI)
			for i, node := range g.Nodes {
				m := container.NewMutable(container.NewestMutableVersion, [20]byte{}, [32]byte{})
				if err := m.Write(0, enc.Shares[i]); err != nil {
					return err
				}
				dir := filepath.Join(node.Base, "storage", "shares", si[:2], si)
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), m.Bytes(), 0o600); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		b.Fatal(err)
	}
	return caps
}

// BenchmarkManyMutables: time to be fully subscribed to WATCHER_BENCH_N
// (default 10,000) mutables on 5 servers, and the memory it takes. The
// servers run in the same process: heap-delta is the growth of the Go
// heap after the watcher is ready (servers' subscription state included),
// rss the whole process.
func BenchmarkManyMutables(b *testing.B) {
	n := 10000
	if s := os.Getenv("WATCHER_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	g := startGrid(b, demo.GridOptions{})
	caps := plantFiles(b, g, n)
	for range b.N {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		w, _ := watchWithin(b, g, watcher.Options{Poll: time.Hour}, 10*time.Minute, caps...)
		ready := time.Since(start)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		for _, s := range w.Status().Servers {
			if s.Mode != watcher.ModePush || s.Subscribed != n {
				b.Fatalf("server %s: %s with %d subscriptions, want push with %d", s.Name, s.Mode, s.Subscribed, n)
			}
		}
		b.ReportMetric(ready.Seconds(), "s-to-subscribed")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-delta-MB")
		b.ReportMetric(rssMB(), "rss-MB")
	}
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

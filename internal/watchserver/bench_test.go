package watchserver

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// reportLatencies adds p50 and p99 of ds to b's output.
func reportLatencies(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkNotifyToNotice: from Hub.Notify (the storage server's write
// hook) to the notice decoded by a client over loopback TLS.
func BenchmarkNotifyToNotice(b *testing.B) {
	ts := startServer(b, Options{})
	si := testSI(1)
	ts.src.set(si, 0, 1)
	c := ts.dial(b)
	subscribe(b, c, wsub(si, 1))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ts.src.set(si, 0, uint64(i+2))
		start := time.Now()
		ts.notify(si, 0)
		nextNotice(b, c)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// BenchmarkFanOut: one change watched by BENCH_FANOUT connections
// (default 1000), timed until the last connection has its notice.
func BenchmarkFanOut(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("BENCH_FANOUT")); err == nil {
		n = v
	}
	ts := startServer(b, Options{})
	si := testSI(1)
	ts.src.set(si, 0, 1)
	conns := make([]*watchproto.Conn, n)
	for i := range conns {
		conns[i] = ts.benchDialFrom(b, benchAddr(i)) // one client each: within the per-client limits
		subscribe(b, conns[i], wsub(si, 1))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ts.src.set(si, 0, uint64(i+2))
		var wg sync.WaitGroup
		start := time.Now()
		ts.notify(si, 0)
		for _, c := range conns {
			wg.Go(func() { nextNotice(b, c) })
		}
		wg.Wait()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// BenchmarkMemory100kSubscriptions: 10 clients (source addresses) with
// one connection of 10,000 subscriptions each on one server, default
// limits on; reports the heap the subscriptions cost (client side
// included: it runs in the same process) and the process RSS.
func BenchmarkMemory100kSubscriptions(b *testing.B) {
	const conns, per = 10, 10_000
	for range b.N {
		ts := startServer(b, Options{})
		for i := range conns * per {
			ts.src.set(testSI(i), 0, 1)
		}
		before := heapMB()
		cs := make([]*watchproto.Conn, conns)
		for j := range cs {
			cs[j] = ts.benchDialFrom(b, benchAddr(j))
			subs := make([]watchproto.Sub, per)
			for i := range subs {
				subs[i] = wsub(testSI(j*per+i), 1)
			}
			subscribe(b, cs[j], subs...)
		}
		if _, n := ts.hub.Stats(); n != conns*per {
			b.Fatalf("%d subscriptions", n)
		}
		b.ReportMetric(heapMB()-before, "subs-heap-MB")
		b.ReportMetric(rssMB(), "RSS-MB")
		for _, c := range cs {
			c.Close()
		}
	}
}

// BenchmarkNotifyUnwatched is the cost the storage server's write path
// pays when nobody watches the index written.
func BenchmarkNotifyUnwatched(b *testing.B) {
	h := NewHub(newMemSource(), Options{})
	si := testSI(1)
	ctx := context.Background()
	for b.Loop() {
		h.Notify(ctx, si, 0)
	}
}

// benchAddr is a distinct loopback source address for client i.
func benchAddr(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

func (ts *testServer) benchDialFrom(b *testing.B, ip string) *watchproto.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ts.dialFrom(ctx, ip)
	if err != nil {
		b.Fatalf("dial from %s: %v", ip, err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

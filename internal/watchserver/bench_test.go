package watchserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// minPercentileSamples is the fewest samples a p99 is reported from;
// below it the benchmark reports the maximum instead (max-ms), since a
// p99 of a few dozen samples is just one of the largest.
const minPercentileSamples = 1000

// reportLatencies adds the sample count, p50 and p99 (or, with fewer than
// minPercentileSamples samples, the max) of ds to b's output.
func reportLatencies(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) float64 { return ms(ds[int(p*float64(len(ds)-1))]) }
	b.ReportMetric(float64(len(ds)), "samples")
	b.ReportMetric(q(0.50), "p50-ms")
	if len(ds) >= minPercentileSamples {
		b.ReportMetric(q(0.99), "p99-ms")
	} else {
		b.ReportMetric(ms(ds[len(ds)-1]), "max-ms")
	}
}

// BenchmarkNotifyToNotice: from Hub.Notify (the storage server's write
// hook) to the notice decoded by a client over loopback TLS. Each
// iteration is one sample: run it with -benchtime 1000x or more for a p99.
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
// (default 1000, each from its own client address), timed until the last
// connection has its notice. Each iteration is one sample: run it with
// -benchtime 1000x or more for a p99.
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
	cpu := processCPU()
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
	reportCPU(b, cpu)
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
// limits on, the server reading share states from disk (DiskSource) as
// the storage server does. 100,000 mutable shares are planted on disk
// first, each with its own storage index, verification key bytes (so its
// own fingerprint), seqnum and root hash; every subscription matches its
// share. Reports the heap the subscriptions cost (client side included:
// it runs in the same process) and the process RSS.
func BenchmarkMemory100kSubscriptions(b *testing.B) {
	const conns, per = 10, 10_000
	dir := b.TempDir()
	start := time.Now()
	subs := plantShares(b, dir, conns*per)
	plant := time.Since(start)
	b.ResetTimer()
	for range b.N {
		ts := startServerOn(b, DiskSource{Dir: dir}, Options{})
		before := heapMB()
		cs := make([]*watchproto.Conn, conns)
		for j := range cs {
			cs[j] = ts.benchDialFrom(b, benchAddr(j))
			res := subscribe(b, cs[j], subs[j*per:(j+1)*per]...)
			for i, r := range res {
				if r.Refused != "" || len(r.Shares) != 1 || r.Shares[0].Seqnum != subs[j*per+i].Seqnum {
					b.Fatalf("subscription %d: %+v", j*per+i, r)
				}
			}
		}
		if _, n := ts.hub.Stats(); n != conns*per {
			b.Fatalf("%d subscriptions", n)
		}
		b.ReportMetric(heapMB()-before, "subs-heap-MB")
		b.ReportMetric(rssMB(), "RSS-MB")
		b.ReportMetric(plant.Seconds(), "plant-s")
		for _, c := range cs {
			c.Close()
		}
	}
}

// plantShares writes n mutable shares (share 0 of n storage indexes) into
// a Tahoe storage/shares directory, much faster than publishing them: each
// is Tahoe's SDMF share from testdata with its seqnum, root hash and the
// last 8 bytes of its verification key replaced by values unique to it.
// The key bytes no longer form a valid RSA key and the signature no longer
// verifies; a watch server reads neither, only hashes the key into the
// fingerprint the subscription must match. It returns a matching
// subscription for each share.
func plantShares(b *testing.B, dir string, n int) []watchproto.Sub {
	const name = "dqrkoatek6jcaq4mqnlomig4wq"
	tmpl := testutil.ReadTestdata(b, "grid", "shares", "storage1", name[:2], name, "0")
	off := container.MutableDataOffset
	h, err := mutable.ParseHeader(tmpl[off:])
	if err != nil {
		b.Fatal(err)
	}
	vk := h.Layout.VerificationKey
	subs := make([]watchproto.Sub, n)
	const workers = 16 // the files are written in parallel: it is I/O latency
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			share := bytes.Clone(tmpl)
			for i := w; i < n; i += workers {
				si := testSI(i)
				seq := uint64(1000 + i)
				binary.BigEndian.PutUint64(share[off+1:], seq)
				root := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("root"), seq))
				copy(share[off+9:off+41], root[:])
				key := share[off+int(vk.Start) : off+int(vk.End)]
				binary.BigEndian.PutUint64(key[len(key)-8:], uint64(i)+1)
				sd := DiskSource{Dir: dir}.ShareDir(si)
				err := os.MkdirAll(sd, 0o755)
				if err == nil {
					err = os.WriteFile(filepath.Join(sd, "0"), share, 0o644)
				}
				if err != nil {
					errs <- err
					return
				}
				subs[i] = watchproto.Sub{SI: si, Fingerprint: hashes.SSKPubkeyFingerprint(key), Seqnum: seq}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return subs
}

// startServerOn is startServer with a share source of the caller's.
func startServerOn(t testing.TB, src ShareSource, opts Options) *testServer {
	t.Helper()
	hub := NewHub(src, opts)
	mux := http.NewServeMux()
	Mount(mux, NewHandler(hub, swissnum))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return &testServer{hub: hub, client: srv.Client(),
		url: "wss://" + srv.Listener.Addr().String() + watchproto.Path}
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

// benchSubs reads BENCH_SUBS, the number of planted mutables the
// subscribe benchmarks use (default 10,000).
func benchSubs() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_SUBS")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// reportCPU reports the process CPU time per operation since start
// (cpu-ns/op): on a shared machine it varies far less than ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkDiskSourceShares: the cost of reading one storage index's
// mutable share states from disk (DiskSource, as serve reads them), over
// BENCH_SUBS distinct planted storage indexes in turn (page cache warm).
// ns/op and cpu-ns/op are per storage index.
func BenchmarkDiskSourceShares(b *testing.B) {
	dir := b.TempDir()
	subs := plantShares(b, dir, benchSubs())
	src := DiskSource{Dir: dir}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := range b.N {
		st, err := src.MutableShares(ctx, subs[i%len(subs)].SI)
		if err != nil || len(st) != 1 {
			b.Fatalf("%d states, %v", len(st), err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkSubscribeDisk: the server's cost of one subscription whose
// shares are on disk, round trip over loopback TLS included. Clients
// (each its own source address, default limits on) subscribe the
// BENCH_SUBS distinct planted mutables on one connection in batches of
// 1,000, the protocol's maximum, as the watcher does at startup; the
// connection then closes, which unsubscribes them. ns/op is per
// subscription (cpu-ns/op: process CPU, the client's share included);
// every reply is checked against the planted state.
func BenchmarkSubscribeDisk(b *testing.B) {
	dir := b.TempDir()
	subs := plantShares(b, dir, benchSubs())
	ts := startServerOn(b, DiskSource{Dir: dir}, Options{})
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for done, client := 0, 0; done < b.N; client++ {
		batch := subs[:min(len(subs), b.N-done)]
		c := ts.benchDialFrom(b, benchAddr(client))
		res := subscribe(b, c, batch...)
		for i, r := range res {
			if r.Refused != "" || len(r.Shares) != 1 || r.Shares[0].Seqnum != batch[i].Seqnum {
				b.Fatalf("subscription %d: %+v", i, r)
			}
		}
		c.Close()
		done += len(batch)
	}
	reportCPU(b, cpu)
	b.StopTimer()
	waitFor(b, func() bool { _, n := ts.hub.Stats(); return n == 0 })
}

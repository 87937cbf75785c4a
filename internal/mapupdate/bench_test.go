package mapupdate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// reportPercentiles reports the p50 and p90 of ds in milliseconds.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*9/10].Microseconds())/1000, "p90-ms")
}

// benchGrid serves the real grid's 3-of-5 MDMF file from five servers.
func benchGrid(b *testing.B) (*testgrid.Grid, *cap.Mutable) {
	g := testgrid.RealGrid(b)
	for _, o := range testutil.GridObjects(b) {
		if o.Name == "mdmf-3seg" {
			return g, cap.MustParse(o.Readcap).(*cap.Mutable)
		}
	}
	b.Fatal("no mdmf-3seg")
	return nil, nil
}

// BenchmarkUpdateCold maps a file on five loopback servers with new
// clients each time: TLS handshakes included.
func BenchmarkUpdateCold(b *testing.B) {
	g, c := benchGrid(b)
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		servers, done := Clients(g.Grid(), c.SI, &grid.Options{Retries: -1})
		m, err := Update(context.Background(), c, servers, nil)
		ds = append(ds, time.Since(start))
		done()
		if err != nil || m.Best == nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, ds)
}

// BenchmarkUpdateWarm maps the same file with clients whose connections
// are already open, as a watcher re-checking a file does.
func BenchmarkUpdateWarm(b *testing.B) {
	g, c := benchGrid(b)
	servers, done := Clients(g.Grid(), c.SI, &grid.Options{Retries: -1})
	defer done()
	if _, err := Update(context.Background(), c, servers, nil); err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		m, err := Update(context.Background(), c, servers, nil)
		ds = append(ds, time.Since(start))
		if err != nil || m.Best == nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, ds)
}

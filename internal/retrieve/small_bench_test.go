package retrieve

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// smallSize is the size of the file the small-read benchmarks read.
const smallSize = 1 << 10

// smallGrid stores a 1 KiB mutable file of format f, 3-of-10 (Tahoe's
// default encoding), two shares on each of five loopback servers, and
// returns the grid, its read cap and its contents.
func smallGrid(b *testing.B, f cap.Format) (*testgrid.Grid, *cap.Mutable, []byte) {
	g := testgrid.New(b, 5)
	priv := testgrid.Key(b)
	c := cap.NewMutable(f, false, priv)
	plain := make([]byte, smallSize)
	for i := range plain {
		plain[i] = byte(i*31 + 7)
	}
	g.PutVersion(c, testgrid.Encode(b, priv, c, plain, 1, 3, 10), testgrid.RoundRobin(10, 0, 1, 2, 3, 4))
	return g, c.ReadOnly().(*cap.Mutable), plain
}

// BenchmarkReadSmallMutable reads a whole 1 KiB mutable file through
// Reader.Cat, the project's read API: map update on all five servers,
// then share data from three, every hash and the signature verified,
// decrypted, compared with what was stored.
//
// warm reuses one Reader (its clients and their TLS connections), as a
// watcher re-reading a changed file does; cold makes a new Reader for
// every read, so each read also pays five TLS handshakes. Each iteration
// is one sample: run with -benchtime 1000x or more for a p99 (with fewer
// the max is reported instead).
func BenchmarkReadSmallMutable(b *testing.B) {
	for _, f := range []struct {
		name string
		f    cap.Format
	}{{"SDMF", cap.SDMF}, {"MDMF", cap.MDMF}} {
		b.Run(f.name+"/warm", func(b *testing.B) {
			g, c, plain := smallGrid(b, f.f)
			r := NewReader(g.Grid(), nil, nil)
			defer r.Close()
			readSmall(b, r, c, plain) // opens the connections
			benchSmallReads(b, func() { readSmall(b, r, c, plain) })
		})
		b.Run(f.name+"/cold", func(b *testing.B) {
			g, c, plain := smallGrid(b, f.f)
			benchSmallReads(b, func() {
				r := NewReader(g.Grid(), nil, nil)
				defer r.Close()
				readSmall(b, r, c, plain)
			})
		})
	}
}

func readSmall(b *testing.B, r *Reader, c *cap.Mutable, want []byte) {
	var buf bytes.Buffer
	if _, err := r.Cat(context.Background(), &buf, c); err != nil {
		b.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		b.Fatalf("read %d bytes, not the %d stored", buf.Len(), len(want))
	}
}

// benchSmallReads times read b.N times and reports the sample count, p50
// and p99 (or max, below 1,000 samples) in milliseconds.
func benchSmallReads(b *testing.B, read func()) {
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		read()
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(len(ds)), "samples")
	b.ReportMetric(ms(ds[(len(ds)-1)/2]), "p50-ms")
	if len(ds) >= 1000 {
		b.ReportMetric(ms(ds[(len(ds)-1)*99/100]), "p99-ms")
	} else {
		b.ReportMetric(ms(ds[len(ds)-1]), "max-ms")
	}
}

package publish_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// BenchmarkUpdateSDMF1KiB: map, encode, sign and write the next version
// of a 1 KiB SDMF file, 3-of-10 on five loopback servers.
func BenchmarkUpdateSDMF1KiB(b *testing.B) {
	benchUpdate(b, cap.SDMF, 1024)
}

// BenchmarkUpdateMDMF20MiB is the same for a 20 MiB MDMF file.
func BenchmarkUpdateMDMF20MiB(b *testing.B) {
	benchUpdate(b, cap.MDMF, 20<<20)
}

func benchUpdate(b *testing.B, f cap.Format, size int) {
	tg := testgrid.New(b, 5)
	p := newPublisher(b, tg.Grid(), 5)
	ctx := context.Background()
	data := random(size)
	res, err := p.Create(ctx, testgrid.Key(b), data, publish.Params{Format: f, K: 3, N: 10})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		m, err := p.Map(ctx, res.Cap)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Update(ctx, m, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateMDMF64MiBStream: the next version of a 64 MiB MDMF
// file, 3-of-10 on five loopback servers, streamed (UpdateFrom: read,
// encode and send batch by batch).
func BenchmarkUpdateMDMF64MiBStream(b *testing.B) {
	benchUpdateFrom(b, 64<<20, true)
}

// BenchmarkUpdateMDMF64MiBWhole is the same through Update: the whole
// version encoded in memory first, then sent in chunks.
func BenchmarkUpdateMDMF64MiBWhole(b *testing.B) {
	benchUpdateFrom(b, 64<<20, false)
}

func benchUpdateFrom(b *testing.B, size int, stream bool) {
	tg := testgrid.New(b, 5)
	p := newPublisher(b, tg.Grid(), 5)
	ctx := context.Background()
	data := random(size)
	res, err := p.Create(ctx, otherKey(b), data[:1024], publish.Params{Format: cap.MDMF, K: 3, N: 10})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		m, err := p.Map(ctx, res.Cap)
		if err != nil {
			b.Fatal(err)
		}
		if stream {
			_, err = p.UpdateFrom(ctx, m, bytes.NewReader(data), int64(size))
		} else {
			_, err = p.Update(ctx, m, data)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

package publish_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// TestChunkedWrites: with requests cut to 8 KiB chunks, shares go in
// several read-test-writes each, created and then replaced by a shorter and
// a longer version, SDMF and MDMF, and every version reads back.
func TestChunkedWrites(t *testing.T) {
	defer publish.SetChunking(16<<10, 8<<10)()
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 5)
	ctx := context.Background()
	keys := map[cap.Format]*rsa.PrivateKey{cap.SDMF: testgrid.Key(t), cap.MDMF: otherKey(t)}
	for _, f := range []cap.Format{cap.SDMF, cap.MDMF} {
		var c *cap.Mutable
		for i, size := range []int{60 << 10, 20 << 10, 120 << 10} {
			t.Run(fmt.Sprintf("%v/%d", f, size), func(t *testing.T) {
				data := random(size)
				var res *publish.Result
				var err error
				if i == 0 {
					res, err = p.Create(ctx, keys[f], data, publish.Params{Format: f, K: 3, N: 7})
				} else {
					var m *publish.Map
					if m, err = p.Map(ctx, c); err == nil {
						res, err = p.Update(ctx, m, data)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				c = res.Cap
				got, seq := mustRead(t, p, c)
				if !bytes.Equal(got, data) || seq != uint64(i+1) {
					t.Fatalf("read back %d bytes at seqnum %d, want %d at %d", len(got), seq, len(data), i+1)
				}
			})
		}
	}
}

// TestBigMDMF3of10On5: a 128 MiB MDMF file, 3-of-10 on five servers,
// makes two 43 MiB shares per server, more than one request may carry;
// it is written in chunks and reads back.
func TestBigMDMF3of10On5(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 430 MiB of shares; runs without -race and -short (scripts/test's memory step)")
	}
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 5)
	data := make([]byte, 128<<20)
	for i := range data {
		data[i] = byte(i*131 + i>>11)
	}
	res, err := p.Create(context.Background(), testgrid.Key(t), data, publish.Params{Format: cap.MDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Happiness != 5 || res.Shares != 10 {
		t.Errorf("happiness %d, %d shares: %v", res.Happiness, res.Shares, res.Placed)
	}
	got, _ := mustRead(t, p, res.Cap)
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differ from the %d written", len(got), len(data))
	}
}

package publish_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// TestStreamedPublish: MDMF files streamed in small batches (many
// requests per server) are created, replaced by shorter and longer
// versions, and read back; a file under the streaming threshold and an
// SDMF file take the whole-file path through the same calls.
func TestStreamedPublish(t *testing.T) {
	defer publish.SetStreaming(64<<10, 200<<10)()
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 5)
	ctx := context.Background()
	for _, f := range []cap.Format{cap.MDMF, cap.SDMF} {
		var c *cap.Mutable
		for i, size := range []int{1 << 20, 300 << 10, 2<<20 + 12345, 1000} {
			t.Run(fmt.Sprintf("%v/%d", f, size), func(t *testing.T) {
				data := random(size)
				var res *publish.Result
				var err error
				if i == 0 {
					key := otherKey(t)
					if f == cap.SDMF {
						key = testgrid.Key(t)
					}
					res, err = p.CreateFrom(ctx, key, bytes.NewReader(data), int64(size), publish.Params{Format: f, K: 3, N: 10})
				} else {
					var m *publish.Map
					if m, err = p.Map(ctx, c); err == nil {
						res, err = p.UpdateFrom(ctx, m, bytes.NewReader(data), int64(size))
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				c = res.Cap
				if res.Happiness != 5 || res.Shares != 10 || res.Seqnum != uint64(i+1) {
					t.Errorf("happiness %d, %d shares, seqnum %d: %v", res.Happiness, res.Shares, res.Seqnum, res.Placed)
				}
				got, seq := mustRead(t, p, c)
				if !bytes.Equal(got, data) || seq != uint64(i+1) {
					t.Fatalf("read back %d bytes at seqnum %d, want %d at %d", len(got), seq, len(data), i+1)
				}
			})
		}
	}
}

// TestStreamedPublishShortInput: input that ends before its stated size
// is an error, not a version.
func TestStreamedPublishShortInput(t *testing.T) {
	defer publish.SetStreaming(64<<10, 200<<10)()
	tg := testgrid.New(t, 3)
	p := newPublisher(t, tg.Grid(), 3)
	_, err := p.CreateFrom(context.Background(), otherKey(t), bytes.NewReader(random(500<<10)), 1<<20, publish.Params{Format: cap.MDMF, K: 2, N: 3})
	if err == nil {
		t.Fatal("a publish of 500 KiB claimed as 1 MiB succeeded")
	}
}

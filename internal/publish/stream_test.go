package publish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
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
		for i, size := range []int{500 << 10, 100 << 10, 700<<10 + 12345, 1000} {
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

// TestConcurrentStreamedUpdaters: two writers stream versions of one
// file at once. Each publish either wins its own seqnum, is superseded by
// the other's later one, or is refused as a conflict; whatever happens,
// the file ends readable as one of the versions written, at the seqnum
// the last winner took.
func TestConcurrentStreamedUpdaters(t *testing.T) {
	defer publish.SetStreaming(64<<10, 64<<10)()
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 1)
	ctx := context.Background()
	res, err := p.Create(ctx, otherKey(t), []byte("v0"), publish.Params{Format: cap.MDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cap
	var mu sync.Mutex
	written := map[string]bool{"v0": true}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				v := random(200<<10 + w)
				mu.Lock()
				written[string(v)] = true
				mu.Unlock()
				m, err := p.Map(ctx, c)
				if err == nil {
					_, err = p.UpdateFrom(ctx, m, bytes.NewReader(v), int64(len(v)))
				}
				if err != nil && !errkind.Is(err, errkind.Conflict) {
					t.Errorf("writer %d: %v", w, err)
				}
			}
		}()
	}
	wg.Wait()
	m, err := p.Map(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Best(); !ok { // a conflict may leave it mixed: one more write settles it
		v := random(1000)
		written[string(v)] = true
		if _, err := p.Update(ctx, m, v); err != nil {
			t.Fatalf("settling write: %v", err)
		}
	}
	got, _ := mustRead(t, p, c)
	if !written[string(got)] {
		t.Fatalf("read %d bytes nobody wrote", len(got))
	}
}

// failingReader returns n bytes, then an error.
type failingReader struct{ n int }

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("input broke")
	}
	b = b[:min(len(b), f.n)]
	f.n -= len(b)
	return len(b), nil
}

// TestAbandonedStreamReplaceable: a streamed write whose input breaks
// midway leaves shares that do not verify; a later writer with no key
// in memory still recovers the key and encoding from them and replaces
// the file.
func TestAbandonedStreamReplaceable(t *testing.T) {
	defer publish.SetStreaming(64<<10, 64<<10)()
	tg := testgrid.New(t, 5)
	p := newPublisher(t, tg.Grid(), 5)
	ctx := context.Background()
	res, err := p.Create(ctx, otherKey(t), random(1000), publish.Params{Format: cap.MDMF, K: 3, N: 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Map(ctx, res.Cap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpdateFrom(ctx, m, &failingReader{n: 300 << 10}, 1<<20); err == nil {
		t.Fatal("a publish whose input broke succeeded")
	}
	p2 := newPublisher(t, tg.Grid(), 5)
	m, err = p2.Map(ctx, res.Cap)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Best(); ok {
		t.Log("a version still verifies after the broken write")
	}
	v := random(5000)
	if _, err := p2.Update(ctx, m, v); err != nil {
		t.Fatalf("replacing after an abandoned stream: %v", err)
	}
	if got, _ := mustRead(t, p2, res.Cap); !bytes.Equal(got, v) {
		t.Fatal("read back other bytes")
	}
}

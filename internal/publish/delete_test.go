package publish_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// TestDelete: a deleted file has no share left on any server and reads
// as not found; with a server down, Delete says shares remain.
func TestDelete(t *testing.T) {
	tg := testgrid.New(t, 4)
	p := newPublisher(t, tg.Grid(), 3)
	ctx := context.Background()
	res, err := p.Create(ctx, testgrid.Key(t), []byte("short-lived"), publish.Params{Format: cap.SDMF, K: 2, N: 6})
	if err != nil {
		t.Fatal(err)
	}
	shareFiles := func() int {
		n := 0
		for _, s := range tg.Servers {
			files, _ := filepath.Glob(filepath.Join(filepath.Dir(s.SharePath(res.Cap.SI, 0)), "*"))
			n += len(files)
		}
		return n
	}
	if n := shareFiles(); n != 6 {
		t.Fatalf("%d share files after create, want 6", n)
	}
	tg.Servers[0].Stop()
	if err := p.Delete(ctx, res.Cap); !errkind.Is(err, errkind.Unreachable) {
		t.Fatalf("delete with a server down: %v", err)
	}
	tg.Servers[0].Restart(t)
	if err := p.Delete(ctx, res.Cap); err != nil {
		t.Fatal(err)
	}
	if n := shareFiles(); n != 0 {
		t.Fatalf("%d share files left", n)
	}
	if _, _, _, err := p.Get(ctx, res.Cap); !errkind.Is(err, errkind.NotFound) {
		t.Fatalf("read after delete: %v", err)
	}
}

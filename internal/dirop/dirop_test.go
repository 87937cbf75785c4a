package dirop_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// keys hands out the shared test key first, then fresh ones.
func keys(t testing.TB) func() (*rsa.PrivateKey, error) {
	var mu sync.Mutex
	first := true
	return func() (*rsa.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			return testgrid.Key(t), nil
		}
		return rsakey.Generate()
	}
}

func newEditor(t testing.TB, g *grid.Grid, newKey func() (*rsa.PrivateKey, error)) *dirop.Editor {
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	p := &publish.Publisher{Grid: g, Dial: cl.Dial, Happy: 3}
	return &dirop.Editor{Pub: p, New: publish.Params{Format: cap.SDMF, K: 3, N: 10}, NewKey: newKey}
}

func TestConcurrentEditors(t *testing.T) {
	tg := testgrid.New(t, 5)
	ctx := context.Background()
	a := newEditor(t, tg.Grid(), keys(t))
	root, err := a.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := newEditor(t, tg.Grid(), nil) // a separate editor, as another process would be
	n := 50
	if testing.Short() {
		n = 15
	}
	file := cap.MustParse("URI:LIT:nbswy3dp")
	var wg sync.WaitGroup
	for w, ed := range []*dirop.Editor{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := ed.Link(ctx, root, []string{fmt.Sprintf("w%d-%02d", w, i)}, dirop.ChildOf(file), false, false); err != nil {
					t.Errorf("editor %d entry %d: %v", w, i, err)
				}
			}
		}()
	}
	wg.Wait()
	entries, err := a.List(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2*n {
		t.Fatalf("%d entries, want %d", len(entries), 2*n)
	}
}

func TestMkdirLinkUnlink(t *testing.T) {
	tg := testgrid.New(t, 4)
	ctx := context.Background()
	ed := newEditor(t, tg.Grid(), keys(t))
	root, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := cap.MustParse("URI:LIT:nbswy3dp")
	// Without parents, a missing directory is NotFound.
	err = ed.Link(ctx, root, []string{"a", "b", "f"}, dirop.ChildOf(file), false, false)
	if !errkind.Is(err, errkind.NotFound) {
		t.Fatalf("link under a missing dir: %v", err)
	}
	if err := ed.Link(ctx, root, []string{"a", "b", "f"}, dirop.ChildOf(file), true, false); err != nil {
		t.Fatal(err)
	}
	b, err := ed.Dir(ctx, root, []string{"a", "b"}, false)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ed.List(ctx, b)
	if err != nil || len(entries) != 1 || entries[0].Name != "f" || entries[0].ROCap != file.String() {
		t.Fatalf("a/b holds %+v, %v", entries, err)
	}
	// Linking over an existing name needs replace.
	other := cap.MustParse("URI:LIT:nbswy3dpeb3w64tmmq")
	if err := ed.Link(ctx, root, []string{"a", "b", "f"}, dirop.ChildOf(other), false, false); !errkind.Is(err, errkind.Conflict) {
		t.Fatalf("link over an existing entry: %v", err)
	}
	ed.Now = func() time.Time { return time.Unix(2000000000, 0) }
	if err := ed.Link(ctx, root, []string{"a", "b", "f"}, dirop.ChildOf(other), false, true); err != nil {
		t.Fatal(err)
	}
	entries, _ = ed.List(ctx, b)
	cr, mo, ok := dirnode.LinkTimes(entries[0].Metadata)
	if !ok || entries[0].ROCap != other.String() || mo.Unix() != 2000000000 || cr.Unix() == 2000000000 {
		t.Errorf("replaced entry %+v: crtime %v motime %v", entries[0], cr, mo)
	}
	if err := ed.Unlink(ctx, root, []string{"a", "b", "f"}); err != nil {
		t.Fatal(err)
	}
	if err := ed.Unlink(ctx, root, []string{"a", "b", "f"}); !errkind.Is(err, errkind.NotFound) {
		t.Fatalf("second unlink: %v", err)
	}
	// A read-only root cannot be edited.
	if err := ed.Link(ctx, root.ReadOnly(), []string{"x"}, dirop.ChildOf(file), false, false); !errkind.Is(err, errkind.Usage) {
		t.Fatalf("link under a read cap: %v", err)
	}
}

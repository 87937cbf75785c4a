package dirop_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"path/filepath"
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

// TestConcurrentMkdirP: two editors that both find a/b missing and both
// make it end with one directory linked at each level, the same one for
// both, and the loser's unlinked directory deleted from the grid.
func TestConcurrentMkdirP(t *testing.T) {
	tg := testgrid.New(t, 4)
	ctx := context.Background()
	root, err := newEditor(t, tg.Grid(), keys(t)).Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each editor's first new key waits for the other's: both have
	// listed root and found no "a" before either links one.
	var barrier sync.WaitGroup
	barrier.Add(2)
	racing := func() func() (*rsa.PrivateKey, error) {
		var once sync.Once
		return func() (*rsa.PrivateKey, error) {
			once.Do(func() { barrier.Done(); barrier.Wait() })
			return rsakey.Generate()
		}
	}
	eds := []*dirop.Editor{newEditor(t, tg.Grid(), racing()), newEditor(t, tg.Grid(), racing())}
	got := make([]*cap.Mutable, len(eds))
	var wg sync.WaitGroup
	for i, ed := range eds {
		wg.Go(func() {
			var err error
			if got[i], err = ed.Dir(ctx, root, []string{"a", "b"}, true); err != nil {
				t.Errorf("editor %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got[0].String() != got[1].String() {
		t.Fatalf("editors ended in different directories: %s, %s", cap.Abbrev(got[0]), cap.Abbrev(got[1]))
	}
	a, err := eds[0].Dir(ctx, root, []string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*cap.Mutable{root, a} {
		if entries, err := eds[0].List(ctx, d); err != nil || len(entries) != 1 {
			t.Fatalf("%s holds %+v, %v; want one entry", cap.Abbrev(d), entries, err)
		}
	}
	// Only root, a and a/b have shares left.
	want := map[string]bool{}
	for _, d := range []*cap.Mutable{root, a, got[0]} {
		want[cap.FormatSI(d.SI)] = true
	}
	for _, s := range tg.Servers {
		files, _ := filepath.Glob(filepath.Join(s.SharesDir(), "*", "*", "*"))
		for _, f := range files {
			if si := filepath.Base(filepath.Dir(f)); !want[si] {
				t.Errorf("%s holds a share of %s, a directory nobody links", s.Info.Name(), si)
			}
		}
	}
}

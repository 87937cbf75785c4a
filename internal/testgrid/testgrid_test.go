package testgrid

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

func TestSDMFOldServesShares(t *testing.T) {
	g, o := SDMFOld(t, 3)
	si := cap.MustParse(o.Cap).StorageIndex()
	ctx := context.Background()
	total := 0
	for _, c := range g.Clients(nil) {
		nums, err := c.ListShares(ctx, grid.Mutable, si)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		total += len(nums)
		for _, n := range nums {
			b, err := c.ReadShare(ctx, grid.Mutable, si, n, 0, 1)
			if err != nil || len(b) != 1 || b[0] != 0 {
				t.Fatalf("share %d: %x %v (want SDMF version byte 0)", n, b, err)
			}
		}
	}
	if total != 10 {
		t.Fatalf("servers hold %d shares, want 10", total)
	}
}

func TestStopRestart(t *testing.T) {
	g, o := SDMFOld(t, 2)
	si := cap.MustParse(o.Cap).StorageIndex()
	s := g.Servers[0]
	c, err := s.Info.Client(&grid.Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Stop()
	if _, err := c.ListShares(ctx, grid.Mutable, si); !errkind.Is(err, errkind.Unreachable) {
		t.Fatalf("stopped server: err %v, want unreachable", err)
	}
	s.Restart(t)
	if nums, err := c.ListShares(ctx, grid.Mutable, si); err != nil || len(nums) != 5 {
		t.Fatalf("restarted server: %v %v", nums, err)
	}
	if got := g.Running(); len(got) != 2 {
		t.Fatalf("running %v", got)
	}
}

func TestHungServerTimesOut(t *testing.T) {
	g := New(t, 1)
	info := g.AddHung()
	c, err := info.Client(&grid.Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.ListShares(ctx, grid.Mutable, make([]byte, 16)); err == nil {
		t.Fatal("hung server answered")
	}
	if ctx.Err() == nil {
		t.Fatal("hung server failed before the deadline")
	}
}

func TestRealGridFiles(t *testing.T) {
	g := RealGrid(t)
	dir := t.TempDir()
	p := g.WriteServersYAML(dir)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"storage1", "pb://zh6cjhq7hklxkmtvjcwhtcuk7zlieaev@tcp:127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777",
		"v0-rfu6li7sewtbwwdo33avlyqycpljgpxqxautee27nhk5ilvczaka"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("servers.yaml lacks %q", want)
		}
	}
	if f := g.ServerFlags(); len(f) != 10 || f[0] != "--server" {
		t.Errorf("ServerFlags = %v", f)
	}
	for _, s := range g.Servers {
		if s.Info.TubID == nil {
			t.Errorf("%s has no tub id", s.Nickname)
		}
	}
}

package retrieve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// advisories counts the corruption advisories server s has recorded.
func advisories(t *testing.T, s *testgrid.Server) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.Base, "storage", "corruption-advisories", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// TestReplacedShareNotAdvised: a share that a writer replaces with a
// newer version between the map update and the block reads fails
// verification, but is no corruption, so its server gets no advisory;
// a block damaged in place still gets one.
func TestReplacedShareNotAdvised(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     errkind.Kind
		advisory int
	}{{"replaced", errkind.Conflict, 0}, {"corrupted", errkind.Corrupt, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			g := testgrid.New(t, 5)
			priv := testgrid.Key(t)
			c := cap.NewMutable(cap.SDMF, false, priv)
			// Large enough that blocks lie beyond the head the map update reads.
			old := bytes.Repeat([]byte("old!"), 16<<10)
			g.PutVersion(c, testgrid.Encode(t, priv, c, old, 1, 3, 5), testgrid.RoundRobin(5, 0, 1, 2, 3, 4))
			r := newReader(t, g, 5*time.Second)
			ctx := context.Background()
			m, err := r.Map(ctx, c)
			if err != nil || m.Best == nil {
				t.Fatalf("map: %v", err)
			}
			// Server 0 holds share 0; make it look fastest so it is read.
			victim := g.Servers[0]
			for _, s := range m.Servers {
				s.Latency = time.Second
				if s.ID == victim.Info.ID {
					s.Latency = 0
				}
			}
			if tc.kind == errkind.Conflict {
				newer := bytes.Repeat([]byte("new!"), 16<<10)
				g.PutVersion(c, testgrid.Encode(t, priv, c, newer, 2, 3, 5), map[int]int{0: 0})
			} else {
				damageLastBlock(t, victim.SharePath(c.SI, 0))
			}
			var buf bytes.Buffer
			rep, err := Mutable(ctx, &buf, c.Readkey, c.SI, m.Best, nil)
			if err != nil || !bytes.Equal(buf.Bytes(), old) {
				t.Fatalf("read: %d bytes, %v", buf.Len(), err)
			}
			if len(rep.Bad) != 1 || rep.Bad[0].Num != 0 || !errkind.Is(rep.Bad[0].Err, tc.kind) {
				t.Fatalf("bad shares %+v; want share 0 of kind %v", rep.Bad, tc.kind)
			}
			if n := advisories(t, victim); n != tc.advisory {
				t.Fatalf("%d advisories, want %d", n, tc.advisory)
			}
		})
	}
}

// damageLastBlock overwrites bytes near the end of a mutable share's data
// in place, inside its last block.
func damageLastBlock(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := container.ParseMutable(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Write(uint64(len(m.Data())-2000), bytes.Repeat([]byte{0x55}, 500)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, m.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

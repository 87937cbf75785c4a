package watcher_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// shareFiles returns the paths of node n's share files of c.
func shareFiles(t *testing.T, n *demo.Node, c *cap.Mutable) []string {
	t.Helper()
	si := base32.Encode(c.SI)
	files, _ := filepath.Glob(filepath.Join(n.Base, "storage", "shares", si[:2], si, "*"))
	if len(files) == 0 {
		t.Fatalf("%s holds no share of the file", n.Nickname)
	}
	return files
}

// flipIn flips a byte of the region of each share file that at picks.
func flipIn(t *testing.T, files []string, at func(l mutable.Layout) int64) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := mutable.ParsePrefix(b[container.MutableDataOffset:])
		if err != nil {
			t.Fatal(err)
		}
		b[container.MutableDataOffset+at(p.Layout)] ^= 0x55
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBadSharesNameTheirServer: each way a server's share can fail
// verification yields a bad-share warning naming that server (and only
// it), and shows in its status, with no change reported. The first map
// reads only k shares, so the bad one may not be among them: the first
// re-map (every Remap) reads every share.
func TestBadSharesNameTheirServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		tamper func(t *testing.T, g *demo.Grid, c, other *cap.Mutable)
	}{
		{"bad signature", "signature", func(t *testing.T, g *demo.Grid, c, _ *cap.Mutable) {
			flipIn(t, shareFiles(t, g.Nodes[0], c), func(l mutable.Layout) int64 { return l.Signature.Start + 7 })
		}},
		{"bad hash chain", "hash", func(t *testing.T, g *demo.Grid, c, _ *cap.Mutable) {
			flipIn(t, shareFiles(t, g.Nodes[0], c), func(l mutable.Layout) int64 { return l.ShareHashChain.Start + 5 })
		}},
		{"another file's share", "fingerprint", func(t *testing.T, g *demo.Grid, c, other *cap.Mutable) {
			mine, theirs := shareFiles(t, g.Nodes[0], c), shareFiles(t, g.Nodes[0], other)
			b, err := os.ReadFile(theirs[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(mine[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated garbage with seqnum 2^63", "share", func(t *testing.T, g *demo.Grid, c, _ *cap.Mutable) {
			garbage := make([]byte, 29)
			binary.BigEndian.PutUint64(garbage[1:], 1<<63)
			m := container.NewMutable(container.NewestMutableVersion, [20]byte{}, [32]byte{})
			if err := m.Write(0, garbage); err != nil {
				t.Fatal(err)
			}
			for _, f := range shareFiles(t, g.Nodes[0], c) {
				if err := os.WriteFile(f, m.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGrid(t, demo.GridOptions{})
			p := newPublisher(t, g.Grid())
			c := create(t, p, false, []byte("mine"))
			other := create(t, p, false, []byte("someone else's"))
			tc.tamper(t, g, c, other)
			w, ch := watch(t, g, watcher.Options{Poll: time.Hour, Refresh: 100 * time.Millisecond, Remap: 100 * time.Millisecond}, c)
			bad := g.Nodes[0].Info.ID
			e := next(t, ch, 10*time.Second)
			if e.Type != events.Warning || e.Warning != events.WarnBadShare || e.Server != bad ||
				!strings.Contains(e.Message, g.Nodes[0].Nickname) || !strings.Contains(e.Message, tc.reason) {
				t.Fatalf("event %+v, want a bad-share warning naming %s (%s) about %q", e, g.Nodes[0].Nickname, bad, tc.reason)
			}
			if strings.Contains(e.Message, "mutable.") || strings.Contains(e.Message, "mapupdate.") || strings.Contains(e.Message, "hashtree.") {
				t.Errorf("warning %q shows Go identifiers", e.Message)
			}
			for _, s := range w.Status().Servers {
				switch {
				case s.ID == bad && (s.BadShares == 0 || !strings.Contains(s.LastBad, tc.reason)):
					t.Errorf("status of the bad server: %d bad shares, last %q", s.BadShares, s.LastBad)
				case s.ID != bad && s.BadShares != 0:
					t.Errorf("status of honest %s: %d bad shares", s.Name, s.BadShares)
				}
			}
			quiet(t, ch, 200*time.Millisecond)
		})
	}
}

package mapupdate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// TestProvisionalShareInProgress: a share whose header carries the
// provisional root hash of a streamed write under way is reported as in
// progress, not corrupt, and its server gets no corruption advisory; the
// same share with any other bad root hash is corrupt.
func TestProvisionalShareInProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		root string
		want func(*ServerResult) bool
	}{
		{"provisional", "tahoe-watch:wip\x00" + "0123456789abcdef", func(s *ServerResult) bool {
			return len(s.Corrupt) == 0 && len(s.InProgress) == 1 && s.InProgress[0] == 0
		}},
		{"tampered", "someone-else:wip" + "0123456789abcdef", func(s *ServerResult) bool {
			return s.Corrupt[0] != nil && len(s.InProgress) == 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, o := testgrid.SDMFOld(t, 3)
			c := cap.MustParse(o.Cap)
			p := g.Servers[0].SharePath(c.StorageIndex(), 0)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// The root hash follows the version byte and the seqnum.
			copy(b[container.MutableDataOffset+9:], tc.root)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			m := update(t, g, c, nil)
			if m.Best == nil || m.Best.Distinct() != 9 {
				t.Fatalf("best %+v, want 9 good shares", m.Best)
			}
			if s0 := findServer(t, m, g.Servers[0].Info.ID); !tc.want(s0) {
				t.Fatalf("server 0: corrupt %v, in progress %v", s0.Corrupt, s0.InProgress)
			}
			adv, _ := filepath.Glob(filepath.Join(g.Servers[0].Base, "storage", "corruption-advisories", "*"))
			if wantAdv := tc.name == "tampered"; (len(adv) == 1) != wantAdv {
				t.Fatalf("advisories on server 0: %v", adv)
			}
		})
	}
}

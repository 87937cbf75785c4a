package mapupdate

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// update runs an update of c against g with fast-failing clients.
func update(t testing.TB, g *testgrid.Grid, c cap.Cap, o *Options) *Map {
	t.Helper()
	servers, done := Clients(g.Grid(), c.StorageIndex(), &grid.Options{Retries: -1})
	defer done()
	m, err := Update(context.Background(), c.(*cap.Mutable), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOldSDMF(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	m := update(t, g, cap.MustParse(o.Cap), nil)
	if m.Best == nil || m.Best.ID.Seqnum != 1 || m.Best.ID.K != 3 || m.Best.ID.N != 10 || m.Best.Distinct() != 10 {
		t.Fatalf("best = %+v", m.Best)
	}
	if len(m.Versions) != 1 || len(m.Newer) != 0 || len(m.Uncoordinated) != 0 {
		t.Fatalf("versions %d newer %d ucw %d", len(m.Versions), len(m.Newer), len(m.Uncoordinated))
	}
	for _, s := range m.Servers {
		if s.Err != nil || len(s.Corrupt) != 0 || len(s.Listed) == 0 {
			t.Errorf("server %s", s)
		}
	}
}

// TestRealGrid checks every mutable object of the real grid through its
// write, read and verify caps against the seqnum its note gives.
func TestRealGrid(t *testing.T) {
	g := testgrid.RealGrid(t)
	seqRE := regexp.MustCompile(`seqnum (\d+)`)
	for _, o := range testutil.GridObjects(t) {
		c := cap.MustParse(o.Cap)
		if !c.IsMutable() {
			continue
		}
		want := uint64(0) // directories' notes give no seqnum
		if s := seqRE.FindStringSubmatch(o.Note); s != nil {
			want, _ = strconv.ParseUint(s[1], 10, 64)
		} else if o.Kind == "filenode" {
			want = 1 // never updated
		}
		for _, cs := range []string{o.Cap, o.Readcap, o.Verifycap} {
			m := update(t, g, cap.MustParse(cs), nil)
			if m.Best == nil || want != 0 && m.Best.ID.Seqnum != want || m.Best.ID.K != 3 || m.Best.ID.N != 5 {
				t.Errorf("%s via %.12s: best %+v, want seqnum %d 3-of-5", o.Name, cs, m.Best, want)
			}
		}
	}
}

func TestCorruptShareReportedAndSkipped(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	c := cap.MustParse(o.Cap)
	// Share 0 lives on server 0; flip a byte of its seqnum (after the
	// container header and lease slots, and the version byte): the
	// signature no longer holds.
	p := g.Servers[0].SharePath(c.StorageIndex(), 0)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[container.MutableDataOffset+8] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := update(t, g, c, nil)
	if m.Best == nil || m.Best.Distinct() != 9 {
		t.Fatalf("best %+v, want 9 good shares", m.Best)
	}
	s0 := findServer(t, m, g.Servers[0].Info.ID)
	if s0.Class != CorruptShare || s0.Corrupt[0] == nil {
		t.Fatalf("server 0: %s", s0)
	}
	adv, _ := filepath.Glob(filepath.Join(g.Servers[0].Base, "storage", "corruption-advisories", "*"))
	if len(adv) != 1 {
		t.Fatalf("advisories on server 0: %v", adv)
	}
}

func findServer(t *testing.T, m *Map, id string) *ServerResult {
	t.Helper()
	for _, s := range m.Servers {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no server %s in map", id)
	return nil
}

func TestHungAndStoppedServers(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 4)
	hung := g.AddHung()
	g.Servers[3].Stop()
	start := time.Now()
	m := update(t, g, cap.MustParse(o.Cap), &Options{Timeout: 500 * time.Millisecond})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("update took %v with a 500ms timeout", d)
	}
	if m.Best == nil || m.Best.Distinct() != 8 {
		t.Fatalf("best %+v, want the 8 shares of the 3 live servers", m.Best)
	}
	if s := findServer(t, m, hung.ID); s.Class != Timeout {
		t.Errorf("hung server: %s", s)
	}
	if s := findServer(t, m, g.Servers[3].Info.ID); s.Class != Refused {
		t.Errorf("stopped server: %s", s)
	}
}

func TestNewerUnrecoverableAndUncoordinated(t *testing.T) {
	g := testgrid.New(t, 5)
	priv := testgrid.Key(t)
	c := cap.NewMutable(cap.MDMF, false, priv)
	v1 := testgrid.Encode(t, priv, c, []byte("version one"), 1, 3, 5)
	g.PutVersion(c, v1, testgrid.RoundRobin(5, 0, 1, 2, 3, 4))
	v2 := testgrid.Encode(t, priv, c, []byte("version two, partial"), 2, 3, 5)
	g.PutVersion(c, v2, map[int]int{0: 0, 1: 1}) // replaces v1's shares 0, 1
	m := update(t, g, c, nil)
	if m.Best == nil || m.Best.ID.Seqnum != 1 || m.Best.Distinct() != 3 {
		t.Fatalf("best %+v", m.Best)
	}
	if len(m.Newer) != 1 || m.Newer[0].ID.Seqnum != 2 || m.Newer[0].Distinct() != 2 {
		t.Fatalf("newer %+v", m.Newer)
	}
	if len(m.Uncoordinated) != 0 {
		t.Fatal("uncoordinated write reported")
	}

	// Two writers of seqnum 3, each on 3 servers' worth of shares.
	a := testgrid.Encode(t, priv, c, []byte("writer A"), 3, 2, 4)
	b := testgrid.Encode(t, priv, c, []byte("writer B"), 3, 2, 4)
	g.PutVersion(c, a, map[int]int{0: 0, 1: 1})
	g.PutVersion(c, b, map[int]int{2: 2, 3: 3})
	m = update(t, g, c, nil)
	if len(m.Uncoordinated) != 1 || len(m.Uncoordinated[0]) != 2 || m.Uncoordinated[0][0].ID.Seqnum != 3 {
		t.Fatalf("uncoordinated %+v", m.Uncoordinated)
	}
	if m.Best == nil || m.Best.ID.Seqnum != 3 {
		t.Fatalf("best %+v", m.Best)
	}
}

func TestPinAndAuthFailuresClassified(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	c := cap.MustParse(o.Cap).(*cap.Mutable)
	wrongKey := *g.Servers[0].NURL()
	wrongKey.SPKIHash = g.Servers[1].NURL().SPKIHash
	wrongSwiss := *g.Servers[2].NURL()
	wrongSwiss.Swissnum = "notthesecret"
	var servers []Server
	for _, n := range []*nurl.NURL{&wrongKey, &wrongSwiss} {
		cl := grid.New(n, &grid.Options{Retries: -1})
		defer cl.Close()
		servers = append(servers, Server{ID: n.SPKIHash, Name: n.Redacted(), Source: cl})
	}
	m, err := Update(context.Background(), c, servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Servers[0].Class != PinMismatch || m.Servers[1].Class != Unauthorized || m.Best != nil {
		t.Fatalf("classes %q, %q; best %v", m.Servers[0].Class, m.Servers[1].Class, m.Best)
	}
}

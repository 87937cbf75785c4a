package retrieve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func newReader(t testing.TB, g *testgrid.Grid, timeout time.Duration) *Reader {
	r := NewReader(g.Grid(), &Options{Timeout: timeout}, &grid.Options{Retries: -1})
	t.Cleanup(r.Close)
	return r
}

func cat(t testing.TB, r *Reader, c string) ([]byte, *Report, error) {
	t.Helper()
	capStr, path, err := cap.SplitPath(c)
	if err != nil {
		t.Fatal(err)
	}
	cp := cap.MustParse(capStr)
	ctx := context.Background()
	if cp, err = r.Resolve(ctx, cp, path); err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	rep, err := r.Cat(ctx, &buf, cp)
	return buf.Bytes(), rep, err
}

func TestOldSDMF(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	got, _, err := cat(t, newReader(t, g, 0), o.Cap)
	if err != nil || !bytes.Equal(got, o.Plaintext) {
		t.Fatalf("cat = %q, %v; want %q", got, err, o.Plaintext)
	}
}

// deref reads a cap Tahoe listed as null as "".
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestRealGrid reads every file of the Tahoe 1.20 grid through its write
// cap, read cap and every directory path leading to it, and lists every
// directory.
func TestRealGrid(t *testing.T) {
	g := testgrid.RealGrid(t)
	r := newReader(t, g, 0)
	objs := testutil.GridObjects(t)
	byRO := map[string]testutil.GridObject{}
	for _, o := range objs {
		byRO[o.Readcap] = o
		if o.Kind != "filenode" {
			continue
		}
		for _, c := range []string{o.Cap, o.Readcap} {
			got, _, err := cat(t, r, c)
			if err != nil || sha(got) != o.PlaintextSHA256 {
				t.Errorf("%s via %.14s: %d bytes sha %s, %v", o.Name, c, len(got), sha(got), err)
			}
		}
	}
	for _, d := range objs {
		if d.Kind != "dirnode" {
			continue
		}
		for _, dc := range []string{d.Cap, d.Readcap} {
			entries, err := r.ReadDir(context.Background(), cap.MustParse(dc))
			if err != nil {
				t.Fatalf("%s: %v", d.Name, err)
			}
			if len(entries) != len(d.Children) {
				t.Errorf("%s: %d entries, want %d", d.Name, len(entries), len(d.Children))
			}
			writable := !cap.MustParse(dc).IsReadOnly()
			for _, e := range entries {
				want, ok := d.Children[e.Name]
				if !ok || e.ROCap != deref(want.ROURI) || writable && e.RWCap != deref(want.RWURI) || !writable && e.RWCap != "" {
					t.Errorf("%s: entry %q ro %s rw %s; want ro %s rw %s", d.Name, e.Name, e.ROCap, e.RWCap, deref(want.ROURI), deref(want.RWURI))
				}
			}
		}
		for name, ch := range d.Children {
			if ch.Kind != "filenode" {
				continue
			}
			got, _, err := cat(t, r, d.Readcap+"/"+name)
			if err != nil {
				t.Errorf("%s/%s: %v", d.Name, name, err)
				continue
			}
			if o, ok := byRO[deref(ch.ROURI)]; ok && sha(got) != o.PlaintextSHA256 {
				t.Errorf("%s/%s: wrong contents", d.Name, name)
			}
		}
	}
	// Two levels down, and a missing name.
	var root testutil.GridObject
	for _, o := range objs {
		if o.Name == "dir-sdmf" {
			root = o
		}
	}
	if _, _, err := cat(t, r, root.Cap+"/sub/inner.txt"); err != nil {
		t.Errorf("sub/inner.txt: %v", err)
	}
	if _, _, err := cat(t, r, root.Cap+"/nope"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("missing entry: %v", err)
	}
}

// realObject returns the named object of the real grid.
func realObject(t testing.TB, name string) testutil.GridObject {
	for _, o := range testutil.GridObjects(t) {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no object %s", name)
	return testutil.GridObject{}
}

func TestStoppedServers(t *testing.T) {
	g := testgrid.RealGrid(t)
	r := newReader(t, g, 5*time.Second)
	for _, name := range []string{"mdmf-3seg", "chk-300k"} {
		o := realObject(t, name)
		for stopped := 1; stopped <= 3; stopped++ {
			g.Servers[stopped-1].Stop()
			got, _, err := cat(t, r, o.Readcap)
			switch {
			case stopped < 3 && (err != nil || sha(got) != o.PlaintextSHA256):
				t.Errorf("%s, %d servers stopped: %v", name, stopped, err)
			case stopped == 3 && (err == nil || !strings.Contains(err.Error(), "found 2 of the 3 shares needed")):
				t.Errorf("%s, 3 servers stopped: %v", name, err)
			}
		}
		for _, s := range g.Servers {
			s.Restart(t)
		}
	}
}

func TestCorruptBlocks(t *testing.T) {
	g := testgrid.RealGrid(t)
	r := newReader(t, g, 0)
	o := realObject(t, "mdmf-3seg")
	si := cap.MustParse(o.Cap).StorageIndex()
	// Corrupt the last bytes of the share data (inside the last block) of
	// every share on the first server of the permuted order.
	first := r.Servers(si)[0]
	var victim *testgrid.Server
	for _, s := range g.Servers {
		if s.Info.ID == first.ID {
			victim = s
		}
	}
	for n := 0; n < 5; n++ {
		p := victim.SharePath(si, n)
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		m, err := container.ParseMutable(b)
		if err != nil {
			t.Fatal(err)
		}
		data := m.Data()
		m.Write(uint64(len(data)-2000), bytes.Repeat([]byte{0x55}, 500))
		os.WriteFile(p, m.Bytes(), 0o600)
	}
	// Make the victim look fastest, so its share is read first.
	c := cap.MustParse(o.Readcap).(*cap.Mutable)
	m, err := r.Map(context.Background(), c)
	if err != nil || m.Best == nil {
		t.Fatal(err)
	}
	for _, s := range m.Servers {
		s.Latency = time.Second
		if s.ID == first.ID {
			s.Latency = 0
		}
	}
	var buf bytes.Buffer
	rep, err := Mutable(context.Background(), &buf, c.Readkey, c.SI, m.Best, nil)
	if err != nil || sha(buf.Bytes()) != o.PlaintextSHA256 {
		t.Fatalf("read: %v", err)
	}
	if len(rep.Bad) != 1 || rep.Bad[0].Server != first.Name || !errkind.Is(rep.Bad[0].Err, errkind.Corrupt) {
		t.Fatalf("report names no bad share on %s: %+v", first.Name, rep.Bad)
	}
	if _, ok := rep.Used[rep.Bad[0].Num]; ok {
		t.Fatalf("the bad share is still listed as used: %v", rep.Used)
	}
}

func TestHungServer(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	g.AddHung()
	r := newReader(t, g, 500*time.Millisecond)
	start := time.Now()
	got, _, err := cat(t, r, o.Cap)
	if err != nil || !bytes.Equal(got, o.Plaintext) {
		t.Fatalf("cat: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v with a 500ms timeout", d)
	}
}

func TestNewerPartialVersion(t *testing.T) {
	g := testgrid.New(t, 5)
	priv := testgrid.Key(t)
	c := cap.NewMutable(cap.SDMF, false, priv)
	g.PutVersion(c, testgrid.Encode(t, priv, c, []byte("one"), 1, 3, 5), testgrid.RoundRobin(5, 0, 1, 2, 3, 4))
	g.PutVersion(c, testgrid.Encode(t, priv, c, []byte("two"), 2, 3, 5), map[int]int{0: 0, 1: 1})
	got, rep, err := cat(t, newReader(t, g, 0), c.ReadOnly().String())
	if err != nil || string(got) != "one" || rep.Seqnum != 1 {
		t.Fatalf("cat = %q seq %d, %v", got, rep.Seqnum, err)
	}
}

package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// shareSource answers range reads of one server's shares from memory:
// the fuzz target's stand-in for a server that may send anything.
type shareSource map[uint64][]byte

func (s shareSource) ListShares(context.Context, string, []byte) ([]uint64, error) {
	var out []uint64
	for n := range s {
		out = append(out, n)
	}
	return out, nil
}

func (s shareSource) ReadShare(_ context.Context, _ string, _ []byte, n uint64, off, l int64) ([]byte, error) {
	d := s[n]
	if off >= int64(len(d)) {
		return []byte{}, nil
	}
	return d[off:min(int64(len(d)), off+l)], nil
}

func (s shareSource) AdviseCorrupt(context.Context, string, []byte, uint64, string) error { return nil }

// FuzzMutableServerBytes lets one of four servers send arbitrary bytes
// after a share's valid prefix: the read must still return exactly the
// plaintext, from the three honest servers.
func FuzzMutableServerBytes(f *testing.F) {
	o := testgrid.LoadOldSDMF(f)
	c := cap.MustParse(o.Cap).(*cap.Mutable)
	honest := map[int][]byte{}
	for n := 0; n < 4; n++ {
		m, err := container.ParseMutable(o.Shares[n])
		if err != nil {
			f.Fatal(err)
		}
		honest[n] = m.Data()
	}
	p, err := mutable.ParsePrefix(honest[0])
	if err != nil {
		f.Fatal(err)
	}
	cut := p.Layout.BlockHashTree.Start
	f.Add(honest[0][cut:])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 200))
	f.Fuzz(func(t *testing.T, tail []byte) {
		var servers []mapupdate.Server
		for n := 0; n < 4; n++ {
			d := honest[n]
			if n == 0 {
				d = append(bytes.Clone(d[:cut]), tail...)
			}
			servers = append(servers, mapupdate.Server{ID: fmt.Sprint(n), Name: fmt.Sprint(n), Source: shareSource{uint64(n): d}})
		}
		m, err := mapupdate.Update(context.Background(), c, servers, &mapupdate.Options{HeadSize: int(cut)})
		if err != nil || m.Best == nil {
			t.Fatalf("update: %v", err)
		}
		var out bytes.Buffer
		if _, err := Mutable(context.Background(), &out, c.Readkey, c.SI, m.Best, nil); err != nil {
			t.Fatalf("read: %v", err)
		}
		if !bytes.Equal(out.Bytes(), o.Plaintext) {
			t.Fatalf("read %q", out.Bytes())
		}
	})
}

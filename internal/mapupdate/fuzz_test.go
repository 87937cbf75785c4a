package mapupdate

import (
	"context"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// bytesSource serves one share's bytes as a server would answer range
// reads of it: the fuzz target's stand-in for a hostile server.
type bytesSource struct{ data []byte }

func (s *bytesSource) ListShares(context.Context, string, []byte) ([]uint64, error) {
	return []uint64{0}, nil
}

func (s *bytesSource) ReadShare(_ context.Context, _ string, _ []byte, _ uint64, off, n int64) ([]byte, error) {
	if off >= int64(len(s.data)) {
		return []byte{}, nil
	}
	return s.data[off:min(int64(len(s.data)), off+n)], nil
}

func (s *bytesSource) AdviseCorrupt(context.Context, string, []byte, uint64, string) error {
	return nil
}

// FuzzUpdateShare feeds a server's share bytes to Update: it must never
// panic, and a share it accepts must verify against the fingerprint.
func FuzzUpdateShare(f *testing.F) {
	o := testgrid.LoadOldSDMF(f)
	c := cap.MustParse(o.Cap).(*cap.Mutable)
	for _, n := range []int{0, 3} {
		f.Add(o.Shares[n][container.MutableDataOffset:])
	}
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, share []byte) {
		m, err := Update(context.Background(), c, []Server{{ID: "x", Name: "x", Source: &bytesSource{share}}},
			&Options{HeadSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Versions {
			if v.Prefix.PublicKey == nil {
				t.Fatal("accepted a share without a verified key")
			}
		}
	})
}

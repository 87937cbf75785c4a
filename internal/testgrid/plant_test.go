package testgrid

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Planted files are real Tahoe mutables to a reader: each maps and reads
// back through the grid client (signature, fingerprint and hash chains
// verified) with its own storage index and seqnum and its contents'
// length. The contents themselves are encrypted under the signing key's
// read key, not the cap's (see PlantMutables), so they are not checked.
func TestPlantMutablesReadBack(t *testing.T) {
	g := New(t, PlantShares)
	var bases []string
	for _, s := range g.Servers {
		bases = append(bases, s.Base)
	}
	keys := []*rsa.PrivateKey{Key(t)}
	caps, err := PlantMutables(context.Background(), bases, keys, 4)
	if err != nil {
		t.Fatal(err)
	}
	r := retrieve.NewReader(g.Grid(), nil, nil)
	defer r.Close()
	seen := map[string]bool{}
	for j, c := range caps {
		m := c.(*cap.Mutable)
		if m.Writekey != nil || seen[string(m.SI)] {
			t.Fatalf("cap %d: a write cap, or a storage index seen before", j)
		}
		seen[string(m.SI)] = true
		var buf bytes.Buffer
		rep, err := r.Cat(context.Background(), &buf, c)
		if err != nil {
			t.Fatalf("cap %d: %v", j, err)
		}
		want := len(fmt.Sprintf("planted file %d", j))
		if buf.Len() != want || rep.Seqnum != uint64(1+j) || len(rep.Used) != 3 {
			t.Fatalf("cap %d: read %d bytes, seq %d from %d shares; want %d bytes, seq %d from 3", j, buf.Len(), rep.Seqnum, len(rep.Used), want, 1+j)
		}
	}
}

func TestPlantMutablesRefusesTooManyNodes(t *testing.T) {
	if _, err := PlantMutables(context.Background(), make([]string, PlantShares+1), []*rsa.PrivateKey{Key(t)}, 1); err == nil {
		t.Fatal("planted on more nodes than shares")
	}
}

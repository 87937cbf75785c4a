package hashtree

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

func leaves(n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, hashes.BlockHash([]byte(fmt.Sprint("block", i))))
	}
	return out
}

// TestShape pins the layout independently: three leaves pad to four with
// the empty-leaf hash of index 3, and the root is the pair hash of pairs.
func TestShape(t *testing.T) {
	l := leaves(3)
	tr := New(l)
	pad := hashes.Tagged("Merkle tree empty leaf", []byte("3"), 0)
	want := PairHash(PairHash(l[0], l[1]), PairHash(l[2], pad))
	if !bytes.Equal(tr.Root(), want) || tr.Len() != 7 {
		t.Fatalf("root %x, len %d", tr.Root(), tr.Len())
	}
	if got := fmt.Sprint(tr.Needed(2, true)); got != "[1 5 6]" {
		t.Fatalf("Needed(2) = %s", got)
	}
	if one := New(l[:1]); !bytes.Equal(one.Root(), l[0]) || one.Len() != 1 {
		t.Fatalf("one-leaf tree: root must be the leaf")
	}
}

func TestPartialAcceptsTruthRejectsLies(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 13} {
		tr := New(leaves(n))
		for leaf := 0; leaf < n; leaf++ {
			p := NewPartial(n)
			if err := p.Set(map[int][]byte{0: tr.Root()}, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.Set(tr.Chain(leaf, false), map[int][]byte{leaf: tr.Node(tr.firstLeaf + leaf)}); err != nil {
				t.Fatalf("n=%d leaf=%d: %v", n, leaf, err)
			}
			if len(p.Needed(leaf, true)) != 0 {
				t.Fatalf("still needs hashes after a full chain")
			}
			bad := NewPartial(n)
			bad.Set(map[int][]byte{0: tr.Root()}, nil)
			lie := hashes.BlockHash([]byte("lie"))
			if n > 1 {
				if err := bad.Set(tr.Chain(leaf, false), map[int][]byte{leaf: lie}); err == nil {
					t.Fatalf("n=%d leaf=%d: a wrong leaf was accepted", n, leaf)
				}
			}
		}
	}
}

func TestPartialNeedsRootAndSiblings(t *testing.T) {
	tr := New(leaves(4))
	p := NewPartial(4)
	if err := p.Set(nil, map[int][]byte{0: tr.Node(3)}); err == nil {
		t.Fatal("accepted a leaf with no root")
	}
	p.Set(map[int][]byte{0: tr.Root()}, nil)
	if err := p.Set(nil, map[int][]byte{0: tr.Node(3)}); err == nil {
		t.Fatal("accepted a leaf without its uncle chain")
	}
	if err := p.Set(map[int][]byte{99: tr.Root()}, nil); err == nil {
		t.Fatal("accepted an out-of-range node")
	}
}

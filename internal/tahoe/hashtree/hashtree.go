// Package hashtree implements Tahoe-LAFS's Merkle hash trees: complete
// binary trees stored as a flat array (root at 0, children of i at 2i+1
// and 2i+2), leaves padded to a power of two with "empty leaf" hashes,
// internal nodes the tagged pair hash of their children.
//
// Tree builds a whole tree from its leaves (for encoders); Partial holds
// the nodes a reader has been given and checks each new one against the
// root it trusts (for decoders).
package hashtree

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

const (
	tagEmptyLeaf = "Merkle tree empty leaf"
	tagInternal  = "Merkle tree internal node"
)

// EmptyLeafHash is the padding hash for leaf number i.
func EmptyLeafHash(i int) []byte {
	return hashes.Tagged(tagEmptyLeaf, []byte(strconv.Itoa(i)), 0)
}

// PairHash is the hash of an internal node with children a and b.
func PairHash(a, b []byte) []byte { return hashes.TaggedPair(tagInternal, a, b, 0) }

// roundUpPow2 returns the smallest power of two >= x (and 1 for x <= 1).
func roundUpPow2(x int) int {
	n := 1
	for n < x {
		n *= 2
	}
	return n
}

// Tree is a complete hash tree.
type Tree struct {
	nodes     [][]byte
	firstLeaf int
}

// New builds the tree over the given leaf hashes.
func New(leaves [][]byte) *Tree {
	width := roundUpPow2(len(leaves))
	nodes := make([][]byte, 2*width-1)
	first := width - 1
	for i := 0; i < width; i++ {
		if i < len(leaves) {
			nodes[first+i] = leaves[i]
		} else {
			nodes[first+i] = EmptyLeafHash(i)
		}
	}
	for i := first - 1; i >= 0; i-- {
		nodes[i] = PairHash(nodes[2*i+1], nodes[2*i+2])
	}
	return &Tree{nodes: nodes, firstLeaf: first}
}

// Root is the root hash.
func (t *Tree) Root() []byte { return t.nodes[0] }

// Len is the number of nodes.
func (t *Tree) Len() int { return len(t.nodes) }

// Node returns node i.
func (t *Tree) Node(i int) []byte { return t.nodes[i] }

// Nodes returns every node in index order (the layout shares store).
func (t *Tree) Nodes() [][]byte { return t.nodes }

// Needed lists, ascending, the node indexes that validate leaf number
// leaf: its uncle chain up to (not including) the root, and the leaf
// itself if includeLeaf.
func (t *Tree) Needed(leaf int, includeLeaf bool) []int {
	return needed(len(t.nodes), t.firstLeaf+leaf, includeLeaf)
}

// Chain returns the nodes Needed names, by index.
func (t *Tree) Chain(leaf int, includeLeaf bool) map[int][]byte {
	out := map[int][]byte{}
	for _, i := range t.Needed(leaf, includeLeaf) {
		out[i] = t.nodes[i]
	}
	return out
}

func needed(size, node int, includeLeaf bool) []int {
	var out []int
	if includeLeaf {
		out = append(out, node)
	}
	for here := node; here > 0; here = (here - 1) / 2 {
		out = append(out, sibling(here))
	}
	sort.Ints(out)
	return out
}

func sibling(i int) int {
	if i%2 == 1 {
		return i + 1
	}
	return i - 1
}

// Partial is a hash tree a reader fills in from untrusted sources. Every
// hash it accepts is proven against the root, which must be set first (as
// node 0) from a trusted source.
type Partial struct {
	nodes     [][]byte
	firstLeaf int
}

// NewPartial returns an empty tree with room for numLeaves leaves.
func NewPartial(numLeaves int) *Partial {
	width := roundUpPow2(numLeaves)
	return &Partial{nodes: make([][]byte, 2*width-1), firstLeaf: width - 1}
}

// Len is the number of nodes.
func (p *Partial) Len() int { return len(p.nodes) }

// LeafIndex is the node index of leaf number leaf.
func (p *Partial) LeafIndex(leaf int) int { return p.firstLeaf + leaf }

// Node returns node i, or nil if unknown.
func (p *Partial) Node(i int) []byte { return p.nodes[i] }

// Needed lists the nodes still missing to validate leaf number leaf.
func (p *Partial) Needed(leaf int, includeLeaf bool) []int {
	var out []int
	for _, i := range needed(len(p.nodes), p.firstLeaf+leaf, includeLeaf) {
		if p.nodes[i] == nil {
			out = append(out, i)
		}
	}
	return out
}

// Set adds hashes (by node index) and leaf hashes (by leaf number). It
// accepts them only if every one is consistent with what is already known
// and each new node can be hashed up to a known node, ultimately the
// root; otherwise nothing is added and the error (kind Corrupt) says which
// node failed.
func (p *Partial) Set(nodes map[int][]byte, leaves map[int][]byte) error {
	tmp := append([][]byte(nil), p.nodes...)
	var added []int
	add := func(i int, h []byte) error {
		if i < 0 || i >= len(tmp) {
			return errkind.E("hashtree.Set", errkind.Corrupt, "node %d out of range (tree has %d)", i, len(tmp))
		}
		if tmp[i] != nil {
			if !bytes.Equal(tmp[i], h) {
				return errkind.E("hashtree.Set", errkind.Corrupt, "node %d conflicts with the known hash", i)
			}
			return nil
		}
		tmp[i] = h
		added = append(added, i)
		return nil
	}
	for i, h := range nodes {
		if err := add(i, h); err != nil {
			return err
		}
	}
	for leaf, h := range leaves {
		if leaf < 0 || p.firstLeaf+leaf >= len(tmp) {
			return errkind.E("hashtree.Set", errkind.Corrupt, "leaf %d out of range", leaf)
		}
		if err := add(p.firstLeaf+leaf, h); err != nil {
			return err
		}
	}
	if tmp[0] == nil {
		return errkind.E("hashtree.Set", errkind.Corrupt, "root hash unknown")
	}
	sort.Sort(sort.Reverse(sort.IntSlice(added)))
	for _, i := range added {
		if err := prove(tmp, i); err != nil {
			return err
		}
	}
	p.nodes = tmp
	return nil
}

// prove hashes node i upward, filling parents, until it meets a known
// node that it must equal.
func prove(nodes [][]byte, i int) error {
	for i > 0 {
		s := sibling(i)
		if nodes[s] == nil {
			return errkind.E("hashtree.Set", errkind.Corrupt, "not enough hashes: node %d is missing to check node %d", s, i)
		}
		l, r := nodes[i], nodes[s]
		if i%2 == 0 {
			l, r = r, l
		}
		parent := (i - 1) / 2
		h := PairHash(l, r)
		if nodes[parent] != nil {
			if !bytes.Equal(nodes[parent], h) {
				return errkind.E("hashtree.Set", errkind.Corrupt, "bad hash: node %d does not hash to its parent %d", i, parent)
			}
			return nil
		}
		nodes[parent] = h
		i = parent
	}
	return nil
}

// String describes the tree size, for errors and debugging.
func (p *Partial) String() string {
	return fmt.Sprintf("hashtree(%d nodes, %d leaves)", len(p.nodes), len(p.nodes)-p.firstLeaf)
}

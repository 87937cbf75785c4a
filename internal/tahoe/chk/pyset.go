package chk

// Tahoe-LAFS stores each share's share-hash chain in the iteration order of
// the Python set it computed the node indexes in. To write shares byte for
// byte as Tahoe does, pySetOrder reproduces CPython's set table for small
// non-negative ints (whose hash is the int itself): open addressing with up
// to 9 linear probes, then perturbed probing, growing from 8 slots when
// 3/5 full to the next power of two above four times the size.

const (
	pySetMinSize     = 8
	pySetLinearProbe = 9
	pySetPerturb     = 5
)

// pySetOrder returns keys (each >= 0) in the order CPython iterates the
// set made by adding them in the given order.
func pySetOrder(keys []int) []int {
	table := newPySetTable(pySetMinSize)
	used := 0
	for _, k := range keys {
		if !pySetInsert(table, k) {
			continue
		}
		used++
		if used*5 >= (len(table)-1)*3 {
			table = pySetResize(table, used*4)
		}
	}
	out := make([]int, 0, used)
	for _, k := range table {
		if k >= 0 {
			out = append(out, k)
		}
	}
	return out
}

func newPySetTable(size int) []int {
	t := make([]int, size)
	for i := range t {
		t[i] = -1
	}
	return t
}

// pySetInsert adds k, reporting false if it was already present.
func pySetInsert(table []int, k int) bool {
	mask := len(table) - 1
	i, perturb := k&mask, k
	for {
		probes := 0
		if i+pySetLinearProbe <= mask {
			probes = pySetLinearProbe
		}
		for j := 0; j <= probes; j++ {
			switch table[i+j] {
			case -1:
				table[i+j] = k
				return true
			case k:
				return false
			}
		}
		perturb >>= pySetPerturb
		i = (i*5 + 1 + perturb) & mask
	}
}

// pySetResize rehashes into the smallest table larger than minUsed.
func pySetResize(old []int, minUsed int) []int {
	size := pySetMinSize
	for size <= minUsed {
		size <<= 1
	}
	t := newPySetTable(size)
	for _, k := range old {
		if k >= 0 {
			pySetInsert(t, k)
		}
	}
	return t
}

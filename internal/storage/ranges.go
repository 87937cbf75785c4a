package storage

import "slices"

// Range is a half-open byte range [Begin, End).
type Range struct{ Begin, End uint64 }

// rangeSet is a sorted list of disjoint, non-adjacent ranges.
type rangeSet []Range

// add merges r into the set.
func (s rangeSet) add(r Range) rangeSet {
	if r.Begin >= r.End {
		return s
	}
	var out rangeSet
	for _, x := range s {
		if x.End < r.Begin || x.Begin > r.End {
			out = append(out, x)
			continue
		}
		r = Range{min(r.Begin, x.Begin), max(r.End, x.End)}
	}
	out = append(out, r)
	slices.SortFunc(out, func(a, b Range) int { return cmpU(a.Begin, b.Begin) })
	return out
}

// overlaps returns the parts of r already in the set.
func (s rangeSet) overlaps(r Range) []Range {
	var out []Range
	for _, x := range s {
		b, e := max(x.Begin, r.Begin), min(x.End, r.End)
		if b < e {
			out = append(out, Range{b, e})
		}
	}
	return out
}

// missing returns the parts of [0, size) not in the set.
func (s rangeSet) missing(size uint64) []Range {
	out := []Range{}
	var at uint64
	for _, x := range s {
		if x.Begin > at {
			out = append(out, Range{at, min(x.Begin, size)})
		}
		at = max(at, x.End)
	}
	if at < size {
		out = append(out, Range{at, size})
	}
	return out
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

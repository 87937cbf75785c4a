package grid

import (
	"encoding/binary"
	"maps"
	"slices"
)

// CBOR major types used by the read-test-write body.
const (
	cborUint  = 0 << 5
	cborBytes = 2 << 5
	cborText  = 3 << 5
	cborArray = 4 << 5
	cborMap   = 5 << 5
	cborNull  = 0xf6
)

// rtwBody encodes a read-test-write request as CBOR without copying the
// data of its write vectors: the result is a list of pieces, small
// encoded heads interleaved with the callers' own data slices, to be sent
// one after the other. Keys come in canonical order (shorter keys first,
// share numbers ascending), so the bytes are exactly what canonical
// encoding of the same request gives.
type rtwBody struct {
	pieces [][]byte
	head   []byte // the head bytes not yet cut into a piece
	size   int64
}

func encodeRTWBody(tw map[uint64]TestWrite, rv []ReadVector) ([][]byte, int64) {
	var b rtwBody
	b.head = make([]byte, 0, 256)
	b.major(cborMap, 2)
	b.text("read-vector")
	b.major(cborArray, uint64(len(rv)))
	for _, r := range rv {
		b.major(cborMap, 2)
		b.text("size")
		b.major(cborUint, r.Size)
		b.text("offset")
		b.major(cborUint, r.Offset)
	}
	b.text("test-write-vectors")
	b.major(cborMap, uint64(len(tw)))
	for _, n := range slices.Sorted(maps.Keys(tw)) {
		b.major(cborUint, n)
		b.testWrite(tw[n])
	}
	b.cut()
	return b.pieces, b.size
}

func (b *rtwBody) testWrite(v TestWrite) {
	b.major(cborMap, 3)
	b.text("test")
	b.major(cborArray, uint64(len(v.Test)))
	for _, t := range v.Test {
		b.major(cborMap, 3)
		b.text("size")
		b.major(cborUint, t.Size)
		b.text("offset")
		b.major(cborUint, t.Offset)
		b.text("specimen")
		b.major(cborBytes, uint64(len(t.Specimen)))
		b.head = append(b.head, t.Specimen...)
	}
	b.text("write")
	b.major(cborArray, uint64(len(v.Write)))
	for _, w := range v.Write {
		b.major(cborMap, 2)
		b.text("data")
		b.major(cborBytes, uint64(len(w.Data)))
		b.data(w.Data)
		b.text("offset")
		b.major(cborUint, w.Offset)
	}
	b.text("new-length")
	if v.NewLength == nil {
		b.head = append(b.head, cborNull)
	} else {
		b.major(cborUint, *v.NewLength)
	}
}

// major appends a CBOR head: major type and argument, shortest form.
func (b *rtwBody) major(m byte, v uint64) {
	switch {
	case v < 24:
		b.head = append(b.head, m|byte(v))
	case v <= 0xff:
		b.head = append(b.head, m|24, byte(v))
	case v <= 0xffff:
		b.head = binary.BigEndian.AppendUint16(append(b.head, m|25), uint16(v))
	case v <= 0xffffffff:
		b.head = binary.BigEndian.AppendUint32(append(b.head, m|26), uint32(v))
	default:
		b.head = binary.BigEndian.AppendUint64(append(b.head, m|27), v)
	}
}

func (b *rtwBody) text(s string) {
	b.major(cborText, uint64(len(s)))
	b.head = append(b.head, s...)
}

// data adds p as a piece of its own; small slices are copied into the
// head instead, where a separate piece would cost more than the copy.
func (b *rtwBody) data(p []byte) {
	if len(p) < 4096 {
		b.head = append(b.head, p...)
		return
	}
	b.cut()
	b.pieces = append(b.pieces, p)
	b.size += int64(len(p))
}

// cut ends the current head piece.
func (b *rtwBody) cut() {
	if len(b.head) == 0 {
		return
	}
	b.pieces = append(b.pieces, b.head)
	b.size += int64(len(b.head))
	b.head = make([]byte, 0, 256)
}

package grid

import (
	"bytes"
	"errors"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// cborSetTag is the CBOR tag (RFC 9090 registry: "mathematical finite set")
// that the HTTP storage protocol requires on every set of share numbers.
const cborSetTag = 258

// shareSet is a set of share numbers; it travels as CBOR tag 258 over an array.
type shareSet []uint64

var encMode, decMode = cborModes()

func cborModes() (cbor.EncMode, cbor.DecMode) {
	tags := cbor.NewTagSet()
	err := tags.Add(cbor.TagOptions{EncTag: cbor.EncTagRequired, DecTag: cbor.DecTagOptional},
		reflect.TypeOf(shareSet(nil)), cborSetTag)
	if err != nil {
		panic(err) // a programming error in a constant registration
	}
	em, err := cbor.EncOptions{Sort: cbor.SortCanonical}.EncModeWithTags(tags)
	if err != nil {
		panic(err)
	}
	dm, err := cbor.DecOptions{
		FieldNameByteString: cbor.FieldNameByteStringAllowed,
		MaxArrayElements:    1 << 16,
		MaxMapPairs:         1 << 16,
		MaxNestedLevels:     16,
	}.DecModeWithTags(tags)
	if err != nil {
		panic(err)
	}
	return em, dm
}

// Version is a server's answer to GET /storage/v1/version.
type Version struct {
	MaximumImmutableShareSize uint64
	MaximumMutableShareSize   uint64
	AvailableSpace            uint64
	ApplicationVersion        []byte
}

type versionMsg struct {
	V1 struct {
		MaxImmutable uint64 `cbor:"maximum-immutable-share-size"`
		MaxMutable   uint64 `cbor:"maximum-mutable-share-size"`
		Available    uint64 `cbor:"available-space"`
	} `cbor:"http://allmydata.org/tahoe/protocols/storage/v1"`
	AppVersion []byte `cbor:"application-version"`
}

// Allocation is the answer to an immutable allocation: which shares the
// server already holds and which it made room for.
type Allocation struct {
	AlreadyHave []uint64 `cbor:"already-have"`
	Allocated   []uint64 `cbor:"allocated"`
}

type allocateReq struct {
	ShareNumbers  shareSet `cbor:"share-numbers"`
	AllocatedSize uint64   `cbor:"allocated-size"`
}

type allocateResp struct {
	AlreadyHave shareSet `cbor:"already-have"`
	Allocated   shareSet `cbor:"allocated"`
}

// Range is a half-open byte range [Begin, End) of a share.
type Range struct {
	Begin uint64 `cbor:"begin"`
	End   uint64 `cbor:"end"`
}

// UploadProgress is the server's answer to an immutable share write.
type UploadProgress struct {
	Done     bool    // the share is complete (201 Created)
	Required []Range // the ranges still to upload; empty when Done
}

type writeResp struct {
	Required []Range `cbor:"required"`
}

type corruptReq struct {
	Reason string `cbor:"reason"`
}

// TestVector compares Size bytes at Offset of a mutable share with Specimen.
// Bytes beyond the end of the share compare as if absent, so a test of
// Size 1 against an empty Specimen passes only when the share is empty or
// missing.
type TestVector struct {
	Offset   uint64 `cbor:"offset"`
	Size     uint64 `cbor:"size"`
	Specimen []byte `cbor:"specimen"`
}

// WriteVector writes Data at Offset of a mutable share.
type WriteVector struct {
	Offset uint64 `cbor:"offset"`
	Data   []byte `cbor:"data"`
}

// TestWrite is what read-test-write does to one share: if every test of
// every share passes, apply the writes and then truncate or extend the
// share to NewLength (nil leaves the length alone).
type TestWrite struct {
	Test      []TestVector  `cbor:"test"`
	Write     []WriteVector `cbor:"write"`
	NewLength *uint64       `cbor:"new-length"`
}

// ReadVector reads Size bytes at Offset of every share, before any write.
type ReadVector struct {
	Offset uint64 `cbor:"offset"`
	Size   uint64 `cbor:"size"`
}

type rtwReq struct {
	TestWriteVectors map[uint64]TestWrite `cbor:"test-write-vectors"`
	ReadVector       []ReadVector         `cbor:"read-vector"`
}

// RTWResult is the answer to read-test-write: whether the tests passed
// (and so the writes were applied), and the data read before writing,
// by share number, one entry per read vector.
type RTWResult struct {
	Success bool
	Data    map[uint64][][]byte
}

type rtwResp struct {
	Success *bool           `cbor:"success"`
	Data    cbor.RawMessage `cbor:"data"`
}

// decodeRTW decodes a read-test-write answer. An empty array stands for
// an empty map, as in the protocol's own examples.
func decodeRTW(b []byte) (*RTWResult, error) {
	var m rtwResp
	if err := decodeCBOR(b, &m); err != nil {
		return nil, err
	}
	if m.Success == nil {
		return nil, errors.New("answer has no \"success\" field")
	}
	r := &RTWResult{Success: *m.Success, Data: map[uint64][][]byte{}}
	if len(m.Data) == 0 || bytes.Equal(m.Data, []byte{0x80}) {
		return r, nil
	}
	if err := decodeCBOR(m.Data, &r.Data); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeCBOR decodes exactly one CBOR item from b into v.
func decodeCBOR(b []byte, v any) error {
	return decMode.Unmarshal(b, v)
}

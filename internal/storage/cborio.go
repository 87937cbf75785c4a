package storage

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// CBORType is the media type of CBOR message bodies.
const CBORType = "application/cbor"

// setTag is the CBOR tag for sets (share numbers).
const setTag = 258

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // static options; cannot fail
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxArrayElements:  1 << 16,
		MaxMapPairs:       1 << 12,
		MaxNestedLevels:   16,
		IndefLength:       cbor.IndefLengthAllowed,
		TagsMd:            cbor.TagsAllowed,
	}.DecMode()
	if err != nil {
		panic(err) // static options; cannot fail
	}
}

// shareSet is a set of share numbers, CBOR tag 258 around an array.
type shareSet []uint64

// MarshalCBOR encodes the set as tag 258.
func (s shareSet) MarshalCBOR() ([]byte, error) {
	if s == nil {
		s = shareSet{}
	}
	return encMode.Marshal(cbor.Tag{Number: setTag, Content: []uint64(s)})
}

// UnmarshalCBOR accepts only a tag-258 array of distinct unsigned
// integers; a plain array is refused, as Tahoe does.
func (s *shareSet) UnmarshalCBOR(b []byte) error {
	var t cbor.RawTag
	if err := decMode.Unmarshal(b, &t); err != nil {
		return errors.New("share numbers must be a set (CBOR tag 258)")
	}
	if t.Number != setTag {
		return fmt.Errorf("share numbers carry tag %d, want 258", t.Number)
	}
	var nums []uint64
	if err := decMode.Unmarshal(t.Content, &nums); err != nil {
		return fmt.Errorf("share number set: %v", err)
	}
	if len(nums) > 256 {
		return errors.New("more than 256 share numbers")
	}
	seen := map[uint64]bool{}
	for _, n := range nums {
		if seen[n] {
			return fmt.Errorf("share number %d repeated in a set", n)
		}
		seen[n] = true
	}
	*s = nums
	return nil
}

func toShareSet(ns []int) shareSet {
	out := make(shareSet, len(ns))
	for i, n := range ns {
		out[i] = uint64(n)
	}
	return out
}

// acceptsCBOR applies Tahoe's negotiation: no Accept header means CBOR;
// otherwise the most preferred media range must be application/cbor.
func acceptsCBOR(r *http.Request) bool {
	h := r.Header.Values("Accept")
	if len(h) == 0 {
		return true
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(strings.Join(h, ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			}
		}
		if q > bestQ {
			best, bestQ = mt, q
		}
	}
	return best == CBORType && bestQ > 0
}

// decodeBody reads a CBOR request body of at most max bytes into v.
// It returns the HTTP status for a failure: 415 for another content
// type, 413 for too large a body, 400 for a body that does not decode.
func decodeBody(r *http.Request, max int64, v any) (int, error) {
	if err := checkCBORType(r); err != nil {
		return http.StatusUnsupportedMediaType, err
	}
	body, status, err := readRequestBody(r, max)
	if err != nil {
		return status, err
	}
	return decodeCBOR(body, v)
}

// decodeBodyFrom is decodeBody for a body of a Content-Length already
// checked, which read reads whole.
func decodeBodyFrom(r *http.Request, v any, read func() ([]byte, error)) (int, error) {
	if err := checkCBORType(r); err != nil {
		return http.StatusUnsupportedMediaType, err
	}
	body, err := read()
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("body shorter than its Content-Length: %v", err)
	}
	return decodeCBOR(body, v)
}

// checkCBORType fails for a body of another content type than CBOR's.
func checkCBORType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != CBORType {
			return fmt.Errorf("content type %q is not %s", ct, CBORType)
		}
	}
	return nil
}

// decodeCBOR decodes a request body into v.
func decodeCBOR(body []byte, v any) (int, error) {
	if err := decMode.Unmarshal(body, v); err != nil {
		return http.StatusBadRequest, fmt.Errorf("bad CBOR body: %v", err)
	}
	return 0, nil
}

// readRequestBody reads a request body of at most max bytes: one of declared
// length (Content-Length) into a buffer of exactly that size, read once;
// one without (chunked) with a growing buffer, cut at max.
func readRequestBody(r *http.Request, max int64) ([]byte, int, error) {
	tooLarge := fmt.Errorf("body larger than %d bytes", max)
	if n := r.ContentLength; n > max {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	} else if n >= 0 {
		body, err := readDeclared(r.Body, n)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("body shorter than its Content-Length: %v", err)
		}
		return body, 0, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	if int64(len(body)) > max {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return body, 0, nil
}

// readDeclared reads exactly n bytes. The buffer never exceeds n and
// grows (doubling from 1 MiB) only as bytes arrive, so a client that
// declares a large body and sends nothing holds no memory for it.
func readDeclared(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<20))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), n-int64(len(buf)))))
		}
		m, err := r.Read(buf[len(buf):min(int64(cap(buf)), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF && int64(len(buf)) < n {
			return nil, io.ErrUnexpectedEOF
		} else if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return buf, nil
}

// writeCBOR sends v as a CBOR body with the given status.
func writeCBOR(w http.ResponseWriter, status int, v any) {
	b, err := encMode.Marshal(v)
	if err != nil {
		http.Error(w, "cannot encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", CBORType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// Request and response bodies.
type (
	allocateRequest struct {
		ShareNumbers  *shareSet `cbor:"share-numbers"`
		AllocatedSize *uint64   `cbor:"allocated-size"`
	}
	allocateResponse struct {
		AlreadyHave shareSet `cbor:"already-have"`
		Allocated   shareSet `cbor:"allocated"`
	}
	requiredResponse struct {
		Required []rangeBody `cbor:"required"`
	}
	rangeBody struct {
		Begin uint64 `cbor:"begin"`
		End   uint64 `cbor:"end"`
	}
	corruptRequest struct {
		Reason *string `cbor:"reason"`
	}
	rtwRequest struct {
		TestWriteVectors map[uint64]twBody `cbor:"test-write-vectors"`
		ReadVector       *[]readBody       `cbor:"read-vector"`
	}
	twBody struct {
		Test      *[]testBody  `cbor:"test"`
		Write     *[]writeBody `cbor:"write"`
		NewLength *uint64      `cbor:"new-length"`
	}
	testBody struct {
		Offset   *uint64 `cbor:"offset"`
		Size     *uint64 `cbor:"size"`
		Specimen []byte  `cbor:"specimen"`
	}
	writeBody struct {
		Offset *uint64     `cbor:"offset"`
		Data   pooledBytes `cbor:"data"` // released after the write (rtwRequest.release)
	}
	readBody struct {
		Offset *uint64 `cbor:"offset"`
		Size   *uint64 `cbor:"size"`
	}
	rtwResponse struct {
		Success bool                `cbor:"success"`
		Data    map[uint64][][]byte `cbor:"data"`
	}
)

// Limits from Tahoe's CDDL schemas.
const (
	maxTestVectors = 30
	maxReadVectors = 30
	maxReasonLen   = 32765
)

// toBackend validates a decoded read-test-write and converts it.
func (req *rtwRequest) toBackend() (map[int]TestWrite, []ReadVector, error) {
	if req.TestWriteVectors == nil || req.ReadVector == nil {
		return nil, nil, errors.New("test-write-vectors and read-vector are required")
	}
	if len(req.TestWriteVectors) > 256 || len(*req.ReadVector) > maxReadVectors {
		return nil, nil, errors.New("too many vectors")
	}
	tw := map[int]TestWrite{}
	for n, v := range req.TestWriteVectors {
		if n > MaxShareNumber {
			return nil, nil, fmt.Errorf("share number %d out of range", n)
		}
		t, err := v.toBackend()
		if err != nil {
			return nil, nil, fmt.Errorf("share %d: %v", n, err)
		}
		tw[int(n)] = t
	}
	var rv []ReadVector
	for _, r := range *req.ReadVector {
		if r.Offset == nil || r.Size == nil {
			return nil, nil, errors.New("read vector needs offset and size")
		}
		rv = append(rv, ReadVector{*r.Offset, *r.Size})
	}
	return tw, rv, nil
}

func (v twBody) toBackend() (TestWrite, error) {
	if v.Test == nil || v.Write == nil {
		return TestWrite{}, errors.New("test and write are required")
	}
	if len(*v.Test) > maxTestVectors {
		return TestWrite{}, errors.New("too many test vectors")
	}
	t := TestWrite{NewLength: v.NewLength}
	for _, x := range *v.Test {
		if x.Offset == nil || x.Size == nil || x.Specimen == nil {
			return TestWrite{}, errors.New("test vector needs offset, size and specimen")
		}
		t.Test = append(t.Test, TestVector{*x.Offset, *x.Size, x.Specimen})
	}
	for _, x := range *v.Write {
		if x.Offset == nil || !x.Data.set {
			return TestWrite{}, errors.New("write vector needs offset and data")
		}
		t.Write = append(t.Write, WriteVector{*x.Offset, x.Data.b})
	}
	return t, nil
}

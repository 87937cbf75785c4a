package grid

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// Share kinds, as they appear in request paths.
const (
	Immutable = "immutable"
	Mutable   = "mutable"
)

// maxWholeShare bounds a read of a whole share (no Range).
const maxWholeShare = 1 << 30

// Version asks the server for its version and limits.
func (c *Client) Version(ctx context.Context) (*Version, error) {
	k := call{op: "grid.Version", method: http.MethodGet, path: "/storage/v1/version", idempotent: true}
	var m versionMsg
	if err := c.doCBOR(ctx, k, http.StatusOK, &m); err != nil {
		return nil, err
	}
	return &Version{
		MaximumImmutableShareSize: m.V1.MaxImmutable,
		MaximumMutableShareSize:   m.V1.MaxMutable,
		AvailableSpace:            m.V1.Available,
		ApplicationVersion:        m.AppVersion,
	}, nil
}

// RenewLease adds or renews the lease identified by s.LeaseRenew on every
// share of storage index si. A server holding no such shares answers with
// an error of kind NotFound.
func (c *Client) RenewLease(ctx context.Context, si []byte, s Secrets) error {
	k := call{op: "grid.RenewLease", method: http.MethodPut, path: "/storage/v1/lease/" + base32.Encode(si),
		secrets: &Secrets{LeaseRenew: s.LeaseRenew, LeaseCancel: s.LeaseCancel}}
	_, err := c.expect(ctx, k, http.StatusNoContent)
	return err
}

// Allocate creates buckets for the given immutable shares of si, each
// size bytes long, with s.Upload as the upload secret and a lease keyed by
// s.LeaseRenew and s.LeaseCancel.
func (c *Client) Allocate(ctx context.Context, si []byte, s Secrets, shares []uint64, size uint64) (*Allocation, error) {
	k := call{op: "grid.Allocate", method: http.MethodPost, path: siPath(Immutable, si),
		secrets: &Secrets{LeaseRenew: s.LeaseRenew, LeaseCancel: s.LeaseCancel, Upload: s.Upload},
		msg:     allocateReq{ShareNumbers: shareSet(shares), AllocatedSize: size}}
	var m allocateResp
	if err := c.doCBOR(ctx, k, http.StatusOK, &m); err != nil {
		return nil, err
	}
	return &Allocation{AlreadyHave: nonNil(m.AlreadyHave), Allocated: nonNil(m.Allocated)}, nil
}

func nonNil(s shareSet) []uint64 {
	if s == nil {
		return []uint64{}
	}
	return []uint64(s)
}

// WriteShare writes data at offset of immutable share shnum of si. A
// write that overlaps different data already written fails with kind
// Conflict, after which the upload must be aborted.
func (c *Client) WriteShare(ctx context.Context, si []byte, shnum uint64, upload []byte, offset uint64, data []byte) (*UploadProgress, error) {
	if len(data) == 0 {
		return nil, errkind.E("grid.WriteShare", errkind.Usage, "empty write")
	}
	h := http.Header{}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/*", offset, offset+uint64(len(data))-1))
	k := call{op: "grid.WriteShare", method: http.MethodPatch, path: siPath(Immutable, si, itoa(shnum)),
		secrets: &Secrets{Upload: upload}, raw: data, header: h}
	r, err := c.expect(ctx, k, http.StatusOK, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	if r.code == http.StatusCreated {
		return &UploadProgress{Done: true}, nil
	}
	var m writeResp
	if err := c.decode(k, r, &m); err != nil {
		return nil, err
	}
	return &UploadProgress{Required: m.Required}, nil
}

// AbortUpload cancels an in-progress upload of immutable share shnum.
func (c *Client) AbortUpload(ctx context.Context, si []byte, shnum uint64, upload []byte) error {
	k := call{op: "grid.AbortUpload", method: http.MethodPut, path: siPath(Immutable, si, itoa(shnum), "abort"),
		secrets: &Secrets{Upload: upload}}
	_, err := c.expect(ctx, k, http.StatusOK)
	return err
}

// ListShares returns the share numbers the server holds for si; kind is
// Immutable or Mutable.
func (c *Client) ListShares(ctx context.Context, kind string, si []byte) ([]uint64, error) {
	k := call{op: "grid.ListShares", method: http.MethodGet, path: siPath(kind, si, "shares"), idempotent: true}
	var m shareSet
	if err := c.doCBOR(ctx, k, http.StatusOK, &m); err != nil {
		return nil, err
	}
	return nonNil(m), nil
}

// ReadShare reads up to length bytes at offset of share shnum of si; kind
// is Immutable or Mutable. A read past the end of the share returns what
// there is (possibly nothing). A negative length reads the whole share.
func (c *Client) ReadShare(ctx context.Context, kind string, si []byte, shnum uint64, offset, length int64) ([]byte, error) {
	return c.readShare(ctx, kind, si, shnum, offset, length, nil)
}

// ReadShareInto is ReadShare of len(buf) bytes at offset into buf: an
// answer of exactly that length is read straight into it (a reader that
// reuses its buffers allocates nothing per read), any other is copied.
// The result aliases buf and is shorter when the share ends sooner.
func (c *Client) ReadShareInto(ctx context.Context, kind string, si []byte, shnum uint64, offset int64, buf []byte) ([]byte, error) {
	b, err := c.readShare(ctx, kind, si, shnum, offset, int64(len(buf)), buf)
	if err != nil || len(b) == 0 || &b[0] == &buf[0] {
		return b, err
	}
	return buf[:copy(buf, b)], nil
}

// readShare is ReadShare, reading a 2xx body of exactly length bytes
// into into when into is not nil.
func (c *Client) readShare(ctx context.Context, kind string, si []byte, shnum uint64, offset, length int64, into []byte) ([]byte, error) {
	k := call{op: "grid.ReadShare", method: http.MethodGet, path: siPath(kind, si, itoa(shnum)), idempotent: true,
		maxBody: maxWholeShare, into: into}
	if length == 0 {
		return []byte{}, nil
	}
	if offset < 0 {
		return nil, errkind.E(k.op, errkind.Usage, "negative offset %d", offset)
	}
	if length > 0 {
		k.header = http.Header{}
		k.header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
		k.maxBody = length
	}
	r, err := c.expect(ctx, k, http.StatusOK, http.StatusPartialContent, http.StatusNoContent)
	if err != nil {
		return nil, err
	}
	switch {
	case r.code == http.StatusNoContent:
		return []byte{}, nil
	case r.code == http.StatusPartialContent:
		if err := checkContentRange(r, offset, length); err != nil {
			return nil, invalid(k.op, c.name, "%s %s: %v", k.method, k.path, err)
		}
		return r.body, nil
	case length < 0:
		return r.body[min(int64(len(r.body)), offset):], nil
	}
	// A 200 to a ranged read carries the whole share; cut our range out.
	b := r.body[min(int64(len(r.body)), offset):]
	return b[:min(int64(len(b)), length)], nil
}

// checkContentRange checks a 206 answer against the range we asked for.
func checkContentRange(r *reply, offset, length int64) error {
	cr := r.header.Get("Content-Range")
	spec, ok := strings.CutPrefix(cr, "bytes ")
	first, rest, ok2 := strings.Cut(spec, "-")
	last, _, ok3 := strings.Cut(rest, "/")
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if !ok || !ok2 || !ok3 || err1 != nil || err2 != nil || b < a {
		return fmt.Errorf("bad Content-Range %q", cr)
	}
	switch {
	case a != offset:
		return fmt.Errorf("Content-Range %q does not start at %d", cr, offset)
	case length > 0 && b-a+1 > length:
		return fmt.Errorf("Content-Range %q is longer than the %d bytes asked for", cr, length)
	case int64(len(r.body)) != b-a+1:
		return fmt.Errorf("%d bytes of body for Content-Range %q", len(r.body), cr)
	}
	return nil
}

// AdviseCorrupt tells the server that share shnum of si failed
// verification, with a human-readable reason; kind is Immutable or Mutable.
func (c *Client) AdviseCorrupt(ctx context.Context, kind string, si []byte, shnum uint64, reason string) error {
	if reason == "" || len(reason) > 32765 {
		return errkind.E("grid.AdviseCorrupt", errkind.Usage, "reason must be 1 to 32765 bytes")
	}
	k := call{op: "grid.AdviseCorrupt", method: http.MethodPost, path: siPath(kind, si, itoa(shnum), "corrupt"),
		msg: corruptReq{Reason: reason}}
	_, err := c.expect(ctx, k, http.StatusOK)
	return err
}

// ReadTestWrite applies test-and-write vectors to mutable shares of si
// (creating the slot on first write) and reads rv from every share before
// writing. Failing tests are not an error: the result's Success is false
// and nothing was written. s must carry WriteEnabler, LeaseRenew and
// LeaseCancel.
func (c *Client) ReadTestWrite(ctx context.Context, si []byte, s Secrets, tw map[uint64]TestWrite, rv []ReadVector) (*RTWResult, error) {
	vectors := make(map[uint64]TestWrite, len(tw))
	for n, v := range tw {
		vectors[n] = fillVectors(v)
	}
	if rv == nil {
		rv = []ReadVector{}
	}
	parts, size := encodeRTWBody(vectors, rv)
	k := call{op: "grid.ReadTestWrite", method: http.MethodPost, path: siPath(Mutable, si, "read-test-write"),
		secrets: &Secrets{WriteEnabler: s.WriteEnabler, LeaseRenew: s.LeaseRenew, LeaseCancel: s.LeaseCancel},
		parts:   parts, partsLen: size}
	var res *RTWResult
	err := c.doCBOR(ctx, k, http.StatusOK, func(b []byte) error {
		var err error
		res, err = decodeRTW(b)
		return err
	})
	return res, err
}

// fillVectors copies v, replacing nil slices, which would travel as CBOR null.
func fillVectors(v TestWrite) TestWrite {
	v.Test = append([]TestVector{}, v.Test...)
	v.Write = append([]WriteVector{}, v.Write...)
	for i := range v.Test {
		if v.Test[i].Specimen == nil {
			v.Test[i].Specimen = []byte{}
		}
	}
	for i := range v.Write {
		if v.Write[i].Data == nil {
			v.Write[i].Data = []byte{}
		}
	}
	return v
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

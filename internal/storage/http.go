package storage

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
)

// versionKey is the key of the storage protocol's entry in the version document.
const versionKey = "http://allmydata.org/tahoe/protocols/storage/v1"

// Body size limits, as Tahoe's.
const (
	maxAllocateBody = 8192
	maxCorruptBody  = 32768
	maxRTWBody      = container.MaxMutableDataSize + 1<<20
)

// endpoint is one protocol endpoint: the secrets it needs, whether it
// answers in CBOR (and so needs Accept to allow it), and its handler.
type endpoint struct {
	secrets []string
	cbor    bool
	// bigBody endpoints hold their body in memory: it is counted against
	// Config.MaxBodyBytes while the handler runs.
	bigBody bool
	serve   func(w http.ResponseWriter, r *http.Request, x *call) error
}

// call carries what every handler needs, already validated.
type call struct {
	si      []byte
	shnum   int
	secrets secrets
}

// httpError is a handler failure with its status.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }

func statusErr(status int, format string, args ...any) error {
	return &httpError{status, fmt.Errorf(format, args...)}
}

func (s *Server) routes() {
	const v1 = "/storage/v1"
	s.route("GET "+v1+"/version", endpoint{cbor: true, serve: s.version})
	s.route("PUT "+v1+"/lease/{si}", endpoint{secrets: []string{secretLeaseRenew, secretLeaseCancel}, serve: s.renewLease})
	s.route("POST "+v1+"/immutable/{si}", endpoint{secrets: []string{secretLeaseRenew, secretLeaseCancel, secretUpload}, cbor: true, serve: s.allocate})
	s.route("PATCH "+v1+"/immutable/{si}/{shnum}", endpoint{secrets: []string{secretUpload}, cbor: true, serve: s.writeImmutable})
	s.route("PUT "+v1+"/immutable/{si}/{shnum}/abort", endpoint{secrets: []string{secretUpload}, serve: s.abort})
	s.route("GET "+v1+"/immutable/{si}/shares", endpoint{cbor: true, serve: s.listShares(container.ImmutableKind)})
	s.route("GET "+v1+"/immutable/{si}/{shnum}", endpoint{serve: s.readShare(container.ImmutableKind)})
	s.route("POST "+v1+"/immutable/{si}/{shnum}/corrupt", endpoint{serve: s.adviseCorrupt(container.ImmutableKind)})
	s.route("POST "+v1+"/mutable/{si}/read-test-write", endpoint{secrets: []string{secretLeaseRenew, secretLeaseCancel, secretWriteEnabler}, cbor: true, bigBody: true, serve: s.readTestWrite})
	s.route("GET "+v1+"/mutable/{si}/shares", endpoint{cbor: true, serve: s.listShares(container.MutableKind)})
	s.route("GET "+v1+"/mutable/{si}/{shnum}", endpoint{serve: s.readShare(container.MutableKind)})
	s.route("POST "+v1+"/mutable/{si}/{shnum}/corrupt", endpoint{serve: s.adviseCorrupt(container.MutableKind)})
}

// route mounts an endpoint: path parameters (404 when malformed, as an
// unmatched route in Tahoe), secrets (400), Accept (406), then the handler.
func (s *Server) route(pattern string, e endpoint) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		x, err := pathParams(r)
		if err == nil {
			x.secrets, err = parseSecrets(r.Header, e.secrets...)
			if err != nil {
				err = &httpError{http.StatusBadRequest, err}
			}
		}
		if err == nil && e.cbor && !acceptsCBOR(r) {
			err = statusErr(http.StatusNotAcceptable, "this endpoint answers only in %s", CBORType)
		}
		if err == nil && e.bigBody {
			var release func()
			if release, err = s.bodyRoom(r); err == nil {
				defer release()
			}
		}
		if err == nil {
			err = e.serve(w, r, x)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// bodyRoom waits until the request's body fits in Config.MaxBodyBytes
// (a body of unknown length counts as the largest allowed), so that
// concurrent large writes cannot exhaust the server's memory.
func (s *Server) bodyRoom(r *http.Request) (release func(), err error) {
	n := r.ContentLength
	if n < 0 || n > maxRTWBody {
		n = maxRTWBody // over the limit is refused when read; the wait is bounded either way
	}
	if err := s.bodies.Acquire(r.Context(), n); err != nil {
		return nil, statusErr(http.StatusServiceUnavailable, "the server is busy with other writes")
	}
	return func() { s.bodies.Release(n) }, nil
}

func pathParams(r *http.Request) (*call, error) {
	x := &call{shnum: -1}
	if v := r.PathValue("si"); v != "" {
		si, err := base32.DecodeLen(v, StorageIndexLen)
		if err != nil || len(v) != 26 {
			return nil, statusErr(http.StatusNotFound, "bad storage index")
		}
		x.si = si
	}
	if v := r.PathValue("shnum"); v != "" {
		n, ok := parseShnum(v)
		if !ok || n > MaxShareNumber {
			return nil, statusErr(http.StatusNotFound, "bad share number")
		}
		x.shnum = n
	}
	return x, nil
}

// writeError maps an error to its status: protocol errors carry one;
// backend errors map by kind.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	switch {
	case errors.As(err, &he):
		status = he.status
	case errors.Is(err, ErrNotInProgress):
		status = http.StatusMethodNotAllowed
	case errkind.Is(err, errkind.NotFound):
		status = http.StatusNotFound
	case errkind.Is(err, errkind.Auth):
		status = http.StatusUnauthorized
	case errkind.Is(err, errkind.Conflict):
		status = http.StatusConflict
	case errkind.Is(err, errkind.Invalid), errkind.Is(err, errkind.Usage):
		status = http.StatusBadRequest
	}
	if status >= 500 {
		s.log.Error("storage: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("storage: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	http.Error(w, err.Error(), status)
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request, _ *call) error {
	space := s.backend.AvailableSpace()
	doc := map[cbor.ByteString]any{}
	appVersion := s.cfg.ApplicationVersion
	if appVersion == "" {
		appVersion = ApplicationVersion
	}
	doc[versionKey] = map[cbor.ByteString]uint64{
		"maximum-immutable-share-size": space,
		"maximum-mutable-share-size":   container.MaxMutableDataSize,
		"available-space":              space,
	}
	doc["application-version"] = []byte(appVersion)
	writeCBOR(w, http.StatusOK, doc)
	return nil
}

func (s *Server) renewLease(w http.ResponseWriter, _ *http.Request, x *call) error {
	if err := s.backend.AddOrRenewLease(x.si, x.secrets[secretLeaseRenew], x.secrets[secretLeaseCancel]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) allocate(w http.ResponseWriter, r *http.Request, x *call) error {
	var req allocateRequest
	if status, err := decodeBody(r, maxAllocateBody, &req); err != nil {
		return &httpError{status, err}
	}
	if req.ShareNumbers == nil || req.AllocatedSize == nil {
		return statusErr(http.StatusBadRequest, "share-numbers and allocated-size are required")
	}
	var nums []int
	for _, n := range *req.ShareNumbers {
		if n > MaxShareNumber {
			return statusErr(http.StatusBadRequest, "share number %d out of range", n)
		}
		nums = append(nums, int(n))
	}
	already, allocated, err := s.backend.Allocate(x.si, nums, *req.AllocatedSize, UploadSecrets{
		Upload: x.secrets[secretUpload], RenewSecret: x.secrets[secretLeaseRenew], CancelSecret: x.secrets[secretLeaseCancel]})
	if err != nil {
		return err
	}
	writeCBOR(w, http.StatusOK, allocateResponse{AlreadyHave: toShareSet(already), Allocated: toShareSet(allocated)})
	return nil
}

func (s *Server) writeImmutable(w http.ResponseWriter, r *http.Request, x *call) error {
	first, last, ok := parseContentRange(r.Header.Get("Content-Range"))
	if !ok {
		return statusErr(http.StatusRequestedRangeNotSatisfiable, "PATCH needs Content-Range: bytes first-last/total")
	}
	done, missing, err := s.writeImmutableBody(r.Body, x, first, last-first+1)
	if errkind.Is(err, errkind.Invalid) {
		return &httpError{http.StatusRequestedRangeNotSatisfiable, err}
	}
	if err != nil {
		return err
	}
	resp := requiredResponse{Required: []rangeBody{}}
	for _, m := range missing {
		resp.Required = append(resp.Required, rangeBody{m.Begin, m.End})
	}
	status := http.StatusOK
	if done {
		status = http.StatusCreated
	}
	writeCBOR(w, status, resp)
	return nil
}

// immutablePiece bounds what one PATCH holds in memory: the body is read
// and written in pieces this large, so a Content-Range that claims more
// than the body brings costs nothing, whatever the allocation.
const immutablePiece = 1 << 20

// writeImmutableBody writes the n bytes of body at offset first, a piece
// at a time; each piece is checked against the allocation before it is
// read. A body shorter than its Content-Range leaves what it brought
// written (the client sends the rest again, as after any failure).
func (s *Server) writeImmutableBody(body io.Reader, x *call, first, n uint64) (done bool, missing []Range, err error) {
	if n > 1<<30 {
		return false, nil, statusErr(http.StatusRequestEntityTooLarge, "chunk too large")
	}
	buf := make([]byte, min(n, immutablePiece))
	for off := uint64(0); off < n; {
		piece := buf[:min(n-off, immutablePiece)]
		if _, err := io.ReadFull(body, piece); err != nil {
			return false, nil, statusErr(http.StatusBadRequest, "body shorter than its Content-Range")
		}
		done, missing, err = s.backend.WriteImmutable(x.si, x.shnum, x.secrets[secretUpload], first+off, piece)
		if err != nil {
			return false, nil, err
		}
		off += uint64(len(piece))
	}
	return done, missing, nil
}

func (s *Server) abort(w http.ResponseWriter, _ *http.Request, x *call) error {
	if err := s.backend.AbortUpload(x.si, x.shnum, x.secrets[secretUpload]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) listShares(kind container.Kind) func(http.ResponseWriter, *http.Request, *call) error {
	return func(w http.ResponseWriter, _ *http.Request, x *call) error {
		nums, err := s.backend.shareNumbers(x.si, kind)
		if err != nil {
			return err
		}
		writeCBOR(w, http.StatusOK, toShareSet(nums))
		return nil
	}
}

func (s *Server) adviseCorrupt(kind container.Kind) func(http.ResponseWriter, *http.Request, *call) error {
	return func(w http.ResponseWriter, r *http.Request, x *call) error {
		if have, err := s.backend.shareNumbers(x.si, kind); err != nil || !containsInt(have, x.shnum) {
			return statusErr(http.StatusNotFound, "no such share")
		}
		var req corruptRequest
		if status, err := decodeBody(r, maxCorruptBody, &req); err != nil {
			return &httpError{status, err}
		}
		if req.Reason == nil || len(*req.Reason) < 1 || len(*req.Reason) > maxReasonLen {
			return statusErr(http.StatusBadRequest, "reason must be 1 to %d bytes of text", maxReasonLen)
		}
		if err := s.backend.AdviseCorrupt(kind, x.si, x.shnum, *req.Reason); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
}

func (s *Server) readTestWrite(w http.ResponseWriter, r *http.Request, x *call) error {
	var req rtwRequest
	defer req.release()
	if status, err := decodeRTWBody(r, &req); err != nil {
		return &httpError{status, err}
	}
	tw, rv, err := req.toBackend()
	if err != nil {
		return &httpError{http.StatusBadRequest, err}
	}
	ok, reads, err := s.backend.ReadTestWrite(r.Context(), x.si, MutableSecrets{
		WriteEnabler: x.secrets[secretWriteEnabler], RenewSecret: x.secrets[secretLeaseRenew],
		CancelSecret: x.secrets[secretLeaseCancel]}, tw, rv)
	if err != nil {
		return err
	}
	resp := rtwResponse{Success: ok, Data: map[uint64][][]byte{}}
	for n, d := range reads {
		resp.Data[uint64(n)] = d
	}
	writeCBOR(w, http.StatusOK, resp)
	return nil
}

// readShare serves share data, whole (200) or one closed byte range
// (206 with Content-Range, 204 when empty, 416 for unsupported forms).
func (s *Server) readShare(kind container.Kind) func(http.ResponseWriter, *http.Request, *call) error {
	return func(w http.ResponseWriter, r *http.Request, x *call) error {
		sh, err := s.backend.OpenShare(x.si, x.shnum, kind)
		if err != nil {
			return err
		}
		defer sh.Close()
		size := sh.Size()
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Header.Get("Range") == "" {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.WriteHeader(http.StatusOK)
			_, err := io.Copy(w, sh)
			return s.ignoreWriteErr(err)
		}
		first, last, ok := parseRange(r.Header.Get("Range"))
		if !ok {
			return statusErr(http.StatusRequestedRangeNotSatisfiable, "only one closed bytes range is supported")
		}
		end := min(last+1, uint64(size))
		if first >= end {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, end-1, size))
		w.Header().Set("Content-Length", strconv.FormatUint(end-first, 10))
		w.WriteHeader(http.StatusPartialContent)
		_, err = io.Copy(w, io.NewSectionReader(sh, int64(first), int64(end-first)))
		return s.ignoreWriteErr(err)
	}
}

// ignoreWriteErr logs a failure after the status was sent; nothing else
// can be told to the client then.
func (s *Server) ignoreWriteErr(err error) error {
	if err != nil {
		s.log.Debug("storage: sending share data failed", "err", err)
	}
	return nil
}

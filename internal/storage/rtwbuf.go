package storage

import (
	"io"
	"net/http"
	"sync"
)

// rtwBuffers keeps the buffers read-test-write bodies were read into, for
// the next ones: a chunked publish sends a stream of bodies of about one
// size, and reading each into a new buffer (which the collector then
// reclaims) cost the server about as much CPU as the rest of the
// request. The decoded request holds copies of its byte strings, never
// the buffer, so a buffer is free again once decoded. Only bodies whose
// Content-Length a pooled buffer already holds reuse one; others are
// read as decodeBody reads them.
var rtwBuffers sync.Pool // of *[]byte

// maxPooledBody bounds the buffers kept: larger bodies are rare (a
// publish cuts its requests at 8 MiB) and are not kept alive.
const maxPooledBody = 9 << 20

// decodeRTWBody is decodeBody for a read-test-write, reading the body
// into a pooled buffer when one holds it, and else as decodeBody does
// (the buffer growing as bytes arrive), keeping that buffer for the next
// once the body is decoded.
func decodeRTWBody(r *http.Request, v *rtwRequest) (int, error) {
	n := r.ContentLength
	if n <= 0 || n > maxPooledBody {
		return decodeBody(r, maxRTWBody, v)
	}
	bp, _ := rtwBuffers.Get().(*[]byte)
	if bp != nil && int64(cap(*bp)) < n {
		rtwBuffers.Put(bp) // for smaller bodies
		bp = nil
	}
	var read []byte
	status, err := decodeBodyFrom(r, v, func() ([]byte, error) {
		var err error
		if bp == nil {
			read, err = readDeclared(r.Body, n)
		} else {
			read = (*bp)[:n]
			_, err = io.ReadFull(r.Body, read)
		}
		return read, err
	})
	if read != nil { // decoded or not, nothing refers to it now
		rtwBuffers.Put(&read)
	}
	return status, err
}

// writeBuffers keeps the buffers write vectors' data was decoded into,
// for the next request's: the decoder copies every byte string out of
// the body, and a new buffer each time was the other half of the
// garbage a chunked publish made the server collect.
var writeBuffers sync.Pool // of *[]byte

// pooledBytes is a byte string decoded into a buffer of writeBuffers; set
// is false when the field was absent or null.
type pooledBytes struct {
	b   []byte
	buf *[]byte
	set bool
}

// UnmarshalBinary copies data into a pooled buffer (the decoder's
// contract: data is not retained).
func (p *pooledBytes) UnmarshalBinary(data []byte) error {
	bp, _ := writeBuffers.Get().(*[]byte)
	if bp != nil && cap(*bp) < len(data) {
		writeBuffers.Put(bp)
		bp = nil
	}
	if bp == nil {
		b := make([]byte, 0, len(data))
		bp = &b
	}
	p.b = append((*bp)[:0], data...)
	p.buf, p.set = bp, true
	return nil
}

// release returns the request's write buffers to writeBuffers: nothing
// may refer to its write vectors' data afterwards.
func (req *rtwRequest) release() {
	for _, v := range req.TestWriteVectors {
		if v.Write == nil {
			continue
		}
		for i := range *v.Write {
			if x := &(*v.Write)[i]; x.Data.buf != nil {
				writeBuffers.Put(x.Data.buf)
				x.Data = pooledBytes{}
			}
		}
	}
}

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
// into a pooled buffer when one fits it.
func decodeRTWBody(r *http.Request, v *rtwRequest) (int, error) {
	n := r.ContentLength
	if n <= 0 || n > maxPooledBody {
		return decodeBody(r, maxRTWBody, v)
	}
	bp, _ := rtwBuffers.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < n {
		if bp != nil {
			rtwBuffers.Put(bp)
		}
		status, err := decodeBody(r, maxRTWBody, v)
		if err == nil {
			b := make([]byte, 0, n) // the next body of this size reuses it
			rtwBuffers.Put(&b)
		}
		return status, err
	}
	defer rtwBuffers.Put(bp)
	return decodeBodyFrom(r, v, func() ([]byte, error) {
		buf := (*bp)[:n]
		_, err := io.ReadFull(r.Body, buf)
		return buf, err
	})
}

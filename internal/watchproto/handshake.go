package watchproto

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// HandshakeError is why Dial could not open a connection. Status is the
// HTTP status the server answered the upgrade request with, or 0 when no
// answer came (the server could not be reached or the TLS pin failed).
type HandshakeError struct {
	Status int
	Err    error
}

func (e *HandshakeError) Error() string {
	if e.Status == 0 {
		return "watch handshake: " + e.Err.Error()
	}
	return fmt.Sprintf("watch handshake: server answered %d %s", e.Status, http.StatusText(e.Status))
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// Kind classifies the failure: NotFound for a server without the watch
// endpoint (404, 405, 501), Auth for 401 and 403, Invalid for other
// refusals of the request (4xx, or a bad 101 answer), Unreachable for 5xx
// and for no answer at all.
func (e *HandshakeError) Kind() errkind.Kind {
	switch {
	case e.Status == 0 || e.Status >= 500 && e.Status != http.StatusNotImplemented:
		return errkind.Unreachable
	case unsupportedStatus(e.Status):
		return errkind.NotFound
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return errkind.Auth
	}
	return errkind.Invalid
}

func unsupportedStatus(code int) bool {
	return code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented
}

// Unsupported reports whether err (from Dial) says the server has no
// watch endpoint, so that a client should poll it rather than redial.
func Unsupported(err error) bool {
	var he *HandshakeError
	return errors.As(err, &he) && unsupportedStatus(he.Status)
}

// handshakeError wraps a failed upgrade with its status and kind.
func handshakeError(op string, resp *http.Response, err error) error {
	he := &HandshakeError{Err: err}
	if resp != nil {
		he.Status = resp.StatusCode
	}
	return errkind.E(op, he.Kind(), he)
}

package grid

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// PinError reports a server whose TLS certificate does not carry the
// public key its NURL promised.
type PinError struct {
	Server string // the server, as named in messages (nickname or redacted NURL)
	Want   string // the SPKI hash in the NURL
	Got    string // the SPKI hash of the certificate the server presented
}

func (e *PinError) Error() string {
	return fmt.Sprintf("server %s presented TLS key %s, but its NURL pins %s", e.Server, e.Got, e.Want)
}

// StatusError is an HTTP response with a status the operation did not expect.
type StatusError struct {
	Server string // the server, as named in messages
	Method string
	Path   string // request path without the storage index's secrets (it has none)
	Code   int    // HTTP status code
	Body   string // the start of the response body, for diagnosis
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("server %s answered %s %s with %d %s", e.Server, e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Kind maps the status to an error kind.
func (e *StatusError) Kind() errkind.Kind {
	switch {
	case e.Code == http.StatusUnauthorized:
		return errkind.Auth
	case e.Code == http.StatusNotFound:
		return errkind.NotFound
	case e.Code == http.StatusConflict || e.Code == http.StatusPreconditionFailed:
		return errkind.Conflict
	case e.Code == http.StatusServiceUnavailable || e.Code == http.StatusBadGateway || e.Code == http.StatusGatewayTimeout:
		return errkind.Unreachable
	case e.Code >= 400 && e.Code < 500:
		return errkind.Invalid
	}
	return errkind.Other
}

// transportError wraps a failure to get any response from a server.
func transportError(op, server string, err error) error {
	var pin *PinError
	if errors.As(err, &pin) {
		return errkind.E(op, errkind.Auth, pin)
	}
	if errors.Is(err, context.Canceled) {
		return errkind.E(op, errkind.Unreachable, "server %s: request canceled", server)
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return errkind.E(op, errkind.Unreachable, "server %s did not answer in time: %w", server, inWords(err))
	}
	return errkind.E(op, errkind.Unreachable, "server %s unreachable: %w", server, inWords(err))
}

// cause is a transport failure said in words, without Go's request and
// dial wording ("Get \"https://…\": dial tcp …"); it unwraps to the
// original, so errors.Is and errors.As still see it.
type cause struct {
	msg string
	err error
}

func (c *cause) Error() string { return c.msg }
func (c *cause) Unwrap() error { return c.err }

// inWords names the common ways a connection fails; anything else keeps
// the innermost network error's own text.
func inWords(err error) error {
	for _, w := range []struct {
		errno syscall.Errno
		msg   string
	}{
		{syscall.ECONNREFUSED, "connection refused (is the server running on that port?)"},
		{syscall.ECONNRESET, "connection reset by the server"},
		{syscall.EHOSTUNREACH, "no route to the host"},
		{syscall.ENETUNREACH, "network unreachable"},
	} {
		if errors.Is(err, w.errno) {
			return &cause{w.msg, err}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &cause{"timed out", err}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return &cause{"cannot resolve " + dns.Name, err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &cause{ue.Err.Error(), err}
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryable reports whether an idempotent request may be tried again after err.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var pin *PinError
	if errors.As(err, &pin) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500
	}
	return errkind.Is(err, errkind.Unreachable)
}

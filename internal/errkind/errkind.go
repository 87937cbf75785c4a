// Package errkind gives errors an operation and a kind, so that the
// command line can map any failure to a documented exit code in one place
// and print one clear line for it.
//
// Build errors with E and test them with the standard errors.Is/As or
// with Is(err, kind).
package errkind

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the user can do about it.
type Kind int

// The kinds of error. Their exit codes live in internal/cli.
const (
	Other         Kind = iota // an unexpected failure
	Usage                     // bad flags, arguments or input from the user
	NotFound                  // no such object, share or entry
	Unrecoverable             // fewer shares than needed could be read
	Unreachable               // a server could not be contacted
	Auth                      // a server refused our credentials or TLS pin
	Corrupt                   // data failed verification
	Conflict                  // a concurrent writer won (test vectors failed)
	Invalid                   // malformed data that is not the user's input
)

var names = [...]string{"error", "usage", "not found", "unrecoverable", "unreachable",
	"authorization", "corrupt", "conflict", "invalid"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(names) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return names[k]
}

// Error is an error with the operation that failed and its kind.
type Error struct {
	Op   string // what was being done, e.g. "cap.Parse"
	Kind Kind
	Err  error // the underlying cause; may be nil
}

func (e *Error) Error() string {
	switch {
	case e.Op != "" && e.Err != nil:
		return e.Op + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	case e.Op != "":
		return e.Op + ": " + e.Kind.String()
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. msg may be an error (wrapped) or a string (a new
// error); any further args are fmt arguments for a string msg.
func E(op string, kind Kind, msg any, args ...any) error {
	var err error
	switch m := msg.(type) {
	case nil:
	case error:
		err = m
	case string:
		err = fmt.Errorf(m, args...)
	default:
		err = fmt.Errorf("%v", m)
	}
	return &Error{Op: op, Kind: kind, Err: err}
}

// KindOf returns the kind of the outermost *Error in err's chain whose
// kind is not Other, or Other.
func KindOf(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Other
		}
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}

// Is reports whether err has the given kind.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Message returns err's text for users: Error() without the operation
// names ("retrieve.Resolve: ", "cap.Parse: ") of the *Errors in its chain,
// which are for developers (-v shows them). An *Error with neither op nor
// cause says its kind. Text of other wrapping errors (fmt.Errorf with %w,
// errors.Join) is kept, with each wrapped error's own text rewritten the
// same way.
func Message(err error) string {
	switch e := err.(type) {
	case nil:
		return ""
	case *Error:
		if e.Err == nil {
			return e.Kind.String()
		}
		return Message(e.Err)
	}
	text := err.Error()
	var inners []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		inners = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		inners = u.Unwrap()
	}
	for i := len(inners) - 1; i >= 0; i-- { // last first: LastIndex finds each in turn
		text = rewrite(text, inners[i])
	}
	return text
}

// rewrite replaces inner's text, last found in text, by its Message.
func rewrite(text string, inner error) string {
	if inner == nil {
		return text
	}
	raw := inner.Error()
	if i := strings.LastIndex(text, raw); i >= 0 {
		return text[:i] + Message(inner) + text[i+len(raw):]
	}
	return text
}

package content

import "fmt"

// Error is a failed fetch. Its message names the URL's host only, never its
// path, query or userinfo, which may hold a secret.
type Error struct {
	// Host is the host (and port, if any) of the content URL; empty when
	// the URL has none.
	Host string
	// Status is the HTTP status the URL answered, 0 when it did not answer.
	Status int
	// Temporary reports whether fetching again later can help: true for
	// network errors, timeouts, DNS failures and the statuses 5xx, 408 and
	// 429; false for any other status, a body too large or not a JSON
	// object, an unusable URL, a refused address and too many redirects.
	Temporary bool
	// Err is the cause, if any; it holds no URL either.
	Err error

	msg string
}

// newError is the Error of the URL on host; format and args say what went
// wrong, as the predicate of "content URL at host ...".
func newError(host string, status int, temporary bool, cause error, format string, args ...any) *Error {
	return &Error{Host: host, Status: status, Temporary: temporary, Err: cause, msg: fmt.Sprintf(format, args...)}
}

// Error says what went wrong, e.g. "content URL at example.com answered 503".
func (e *Error) Error() string {
	s := "content URL"
	if e.Host != "" {
		s += " at " + e.Host
	}
	msg := e.msg
	if msg == "" {
		msg = "could not be fetched"
	}
	s += " " + msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether fetching again later can help (Temporary).
func (e *Error) Retryable() bool { return e.Temporary }

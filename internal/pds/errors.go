package pds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a PDS's error answer: the HTTP status, the XRPC error name and
// message, and for rate limits when to try again.
type Error struct {
	Status  int
	Name    string
	Message string
	// RetryAfter comes from the ratelimit-reset or Retry-After header; zero
	// when the PDS gave neither.
	RetryAfter time.Time
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pds: HTTP %d", e.Status)
	if e.Name != "" {
		b.WriteString(" " + e.Name)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if !e.RetryAfter.IsZero() {
		b.WriteString(" (retry after " + e.RetryAfter.UTC().Format(time.RFC3339) + ")")
	}
	return b.String()
}

const maxMessage = 300

// errorFrom reads a non-2xx response into an *Error.
func errorFrom(resp *http.Response, now time.Time) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, now)}
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &body) != nil {
		e.Message = http.StatusText(resp.StatusCode)
		return e
	}
	e.Name = body.Error
	e.Message = body.Message
	if len(e.Message) > maxMessage {
		e.Message = e.Message[:maxMessage] + "…"
	}
	return e
}

// retryAfter reads ratelimit-reset (Unix seconds) or Retry-After (seconds
// or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Time {
	if v := h.Get("Ratelimit-Reset"); v != "" {
		if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return time.Unix(sec, 0)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Time{}
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
		return now.Add(time.Duration(sec) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// sendError is a request that got no HTTP response. sent records whether
// the request had been written completely before it failed.
type sendError struct {
	err  error
	sent bool
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// renewError wraps a failure to renew the session before the write was
// sent: the write certainly did not happen.
type renewError struct{ err error }

func (e *renewError) Error() string { return "renew session: " + e.err.Error() }
func (e *renewError) Unwrap() error { return e.err }

// Retryable reports whether trying again later may succeed: network errors,
// timeouts, 5xx, 408 and 429 (wait until Error.RetryAfter), and failures
// to renew the session that are not a refusal. A revoked or missing session,
// a refused login, and other 4xx answers are not retryable.
func Retryable(err error) bool {
	if err == nil || permanent(err) {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Status >= 500 || pe.Status == http.StatusTooManyRequests || pe.Status == http.StatusRequestTimeout
	}
	var se *sendError
	var re *renewError
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &re) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// UnknownOutcome reports whether a write may or may not have happened: the
// request was sent and then timed out or lost its connection, the PDS
// answered 5xx, or it said the record already exists. Read the record back
// before deciding.
func UnknownOutcome(err error) bool {
	if err == nil || permanent(err) {
		return false
	}
	var re *renewError
	if errors.As(err, &re) {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Status >= 500 || alreadyExists(pe)
	}
	var se *sendError
	return errors.As(err, &se) && se.sent
}

func permanent(err error) bool {
	return errors.Is(err, ErrRevoked) || errors.Is(err, ErrNoSession) ||
		errors.Is(err, ErrWrongAccount) || errors.Is(err, ErrNotAppPassword) ||
		errors.Is(err, ErrLoginRefused)
}

func alreadyExists(e *Error) bool {
	return strings.Contains(strings.ToLower(e.Name+" "+e.Message), "already exists")
}

// refused reports a definitive refusal of a token or a password: a 4xx
// other than 408 and 429.
func refused(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Status >= 400 && pe.Status < 500 &&
		pe.Status != http.StatusRequestTimeout && pe.Status != http.StatusTooManyRequests
}

package publisher

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/latency-fabric/alf/internal/pds"
)

// kind is what became of one publish attempt.
type kind int

const (
	published kind = iota // the write is committed on the PDS
	retry                 // a retryable failure; try again at retryAt
	failed                // a permanent failure, or the last retry failed
)

func (k kind) String() string {
	switch k {
	case published:
		return "published"
	case retry:
		return "retry"
	}
	return "failed"
}

// outcome is the result of one attempt, recorded as an event.
type outcome struct {
	kind    kind
	cid     string
	rev     string
	reason  string
	retryAt time.Time
	revoked bool // the account's session is dead: the user must authorize again
}

// maxReason is the longest failure reason kept (characters).
const maxReason = 500

// Reasons a person can act on.
const (
	reasonNoAuthorization = "no_authorization: connect the account to alf first"
	reasonReauthorize     = "reauthorization_required: the session with the PDS was revoked"
)

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxReason {
		return s
	}
	r := []rune(s)
	return string(r[:maxReason])
}

// Policy decides between retrying and failing.
type Policy struct {
	// Backoff is the delay before each retry; after the last, the draft
	// fails. The reference's documented delays are 1, 5 and 15 minutes.
	Backoff []time.Duration
}

// DefaultPolicy retries after 1, 5 and 15 minutes, then fails.
var DefaultPolicy = Policy{Backoff: []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}}

// reason is what a draft's failure_reason says of err: the PDS's own
// answer ("<Name>: <message>") when there is one, else the error.
func reason(err error) string {
	var pe *pds.Error
	if !errors.As(err, &pe) {
		return truncate(err.Error())
	}
	switch {
	case pe.Name != "" && pe.Message != "":
		return truncate(pe.Name + ": " + pe.Message)
	case pe.Message != "":
		return truncate(pe.Message)
	case pe.Name != "":
		return truncate(pe.Name)
	}
	return truncate(pe.Error())
}

// errStoreUnavailable marks a failure of alf's own storage during an
// attempt (a blob it could not read): worth trying again, like a PDS 5xx.
var errStoreUnavailable = errors.New("alf's store is unavailable")

// retryable reports whether trying again later may succeed.
func retryable(err error) bool {
	var ce contentError
	if errors.As(err, &ce) {
		return ce.retryable()
	}
	return pds.Retryable(err) || errors.Is(err, errStoreUnavailable)
}

// classify turns a failed attempt into a retry or a failure.
func (p Policy) classify(err error, attempt uint32, now time.Time) outcome {
	reason := reason(err)
	if !retryable(err) || int(attempt) > len(p.Backoff) {
		return outcome{kind: failed, reason: reason}
	}
	at := now.Add(p.Backoff[attempt-1])
	var pe *pds.Error
	if errors.As(err, &pe) && pe.RetryAfter.After(at) {
		at = pe.RetryAfter
	}
	return outcome{kind: retry, reason: reason, retryAt: at}
}

package publisher

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/pds"
)

func TestPolicyBacksOffThenFails(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	unavailable := &pds.Error{Status: 503, Name: "Unavailable"}
	limited := &pds.Error{Status: 429, Name: "RateLimitExceeded", RetryAfter: now.Add(40 * time.Minute)}
	soonLimited := &pds.Error{Status: 429, RetryAfter: now.Add(10 * time.Second)}
	invalid := &pds.Error{Status: 400, Name: "InvalidRequest", Message: "Invalid app.bsky.feed.post record"}
	tests := []struct {
		name    string
		err     error
		attempt uint32
		kind    kind
		retryAt time.Time
	}{
		{"first failure waits 1 min", unavailable, 1, retry, now.Add(time.Minute)},
		{"second waits 5 min", unavailable, 2, retry, now.Add(5 * time.Minute)},
		{"third waits 15 min", unavailable, 3, retry, now.Add(15 * time.Minute)},
		{"fourth fails", unavailable, 4, failed, time.Time{}},
		{"429 waits for the PDS's reset", limited, 1, retry, now.Add(40 * time.Minute)},
		{"429 never sooner than the backoff", soonLimited, 1, retry, now.Add(time.Minute)},
		{"4xx validation fails at once", invalid, 1, failed, time.Time{}},
		{"revoked session fails at once", pds.ErrRevoked, 1, failed, time.Time{}},
		{"an error of unknown kind fails", errors.New("dial tcp: connection refused"), 1, failed, time.Time{}},
		{"alf's own store unavailable retries", fmt.Errorf("read blob x: %w", errStoreUnavailable), 1, retry, now.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := DefaultPolicy.classify(tt.err, tt.attempt, now)
			if out.kind != tt.kind || !out.retryAt.Equal(tt.retryAt) {
				t.Fatalf("classify = kind %d at %v, want kind %d at %v", out.kind, out.retryAt, tt.kind, tt.retryAt)
			}
			if want := reasonOf(tt.err); out.reason != want {
				t.Fatalf("reason = %q, want %q", out.reason, want)
			}
		})
	}
}

func TestReasonsAreTruncatedTo500Characters(t *testing.T) {
	t.Parallel()
	long := &pds.Error{Status: 400, Message: strings.Repeat("é", 800)}
	out := DefaultPolicy.classify(long, 1, time.Now())
	if n := len([]rune(out.reason)); n != maxReason {
		t.Fatalf("reason has %d characters, want %d", n, maxReason)
	}
}

// reasonOf is the failure reason expected for err: the PDS's name and
// message, or the error's text.
func reasonOf(err error) string {
	var pe *pds.Error
	if errors.As(err, &pe) && pe.Name != "" && pe.Message != "" {
		return pe.Name + ": " + pe.Message
	}
	if errors.As(err, &pe) && pe.Name != "" {
		return pe.Name
	}
	if errors.As(err, &pe) && pe.Message == "" {
		return pe.Error()
	}
	return err.Error()
}

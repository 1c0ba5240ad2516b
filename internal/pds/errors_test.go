package pds

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriteFaultClassification(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(90 * time.Second).Truncate(time.Second)
	tests := []struct {
		name           string
		hook           func(w http.ResponseWriter, r *http.Request)
		retryable      bool
		unknown        bool
		status         int
		retryAfter     time.Time
		retryAfterNear time.Duration // RetryAfter ≈ now + this
	}{
		{name: "500", status: 500, retryable: true, unknown: true,
			hook: func(w http.ResponseWriter, r *http.Request) {
				xrpcError(w, 500, "InternalServerError", "Internal Server Error")
			}},
		{name: "502 without JSON", status: 502, retryable: true, unknown: true,
			hook: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				w.Write([]byte("<html>bad gateway</html>"))
			}},
		{name: "429 with ratelimit-reset", status: 429, retryable: true, retryAfter: reset,
			hook: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
				xrpcError(w, 429, "RateLimitExceeded", "Rate Limit Exceeded")
			}},
		{name: "429 with Retry-After", status: 429, retryable: true, retryAfterNear: 120 * time.Second,
			hook: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "120")
				xrpcError(w, 429, "RateLimitExceeded", "Rate Limit Exceeded")
			}},
		{name: "400 invalid record", status: 400,
			hook: func(w http.ResponseWriter, r *http.Request) {
				xrpcError(w, 400, "InvalidRequest", "Invalid app.bsky.feed.post record")
			}},
		{name: "400 already exists", status: 400, unknown: true,
			hook: func(w http.ResponseWriter, r *http.Request) {
				xrpcError(w, 400, "InvalidRequest", "Record already exists")
			}},
		{name: "timeout after sending", retryable: true, unknown: true,
			hook: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
		{name: "connection dropped after sending", retryable: true, unknown: true,
			hook: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			s, _, _ := connected(t, f)
			s.CallTimeout = 300 * time.Millisecond
			f.set(func(f *fakePDS) {
				f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
					if nsid != "com.atproto.repo.createRecord" {
						return false
					}
					tc.hook(w, r)
					return true
				}
			})
			c, _ := s.Client(ctx, fakeDID)
			_, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`))
			if err == nil {
				t.Fatal("CreateRecord succeeded")
			}
			if got := Retryable(err); got != tc.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tc.retryable)
			}
			if got := UnknownOutcome(err); got != tc.unknown {
				t.Errorf("UnknownOutcome(%v) = %v, want %v", err, got, tc.unknown)
			}
			var pe *Error
			if tc.status == 0 {
				if errors.As(err, &pe) {
					t.Errorf("transport failure became *Error: %v", err)
				}
				return
			}
			if !errors.As(err, &pe) || pe.Status != tc.status {
				t.Fatalf("error %v is not *Error with status %d", err, tc.status)
			}
			switch {
			case !tc.retryAfter.IsZero() && !pe.RetryAfter.Equal(tc.retryAfter):
				t.Errorf("RetryAfter = %v, want %v", pe.RetryAfter, tc.retryAfter)
			case tc.retryAfterNear != 0 && absDur(time.Until(pe.RetryAfter)-tc.retryAfterNear) > 5*time.Second:
				t.Errorf("RetryAfter = %v, want about now+%v", pe.RetryAfter, tc.retryAfterNear)
			case tc.retryAfter.IsZero() && tc.retryAfterNear == 0 && !pe.RetryAfter.IsZero():
				t.Errorf("RetryAfter = %v, want zero", pe.RetryAfter)
			}
		})
	}
}

func TestUnreachablePDSIsRetryableNotUnknown(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s, _, _ := connected(t, f)
	c, _ := s.Client(ctx, fakeDID)
	f.srv.Close()
	_, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`))
	if !Retryable(err) || UnknownOutcome(err) {
		t.Errorf("connection refused: Retryable=%v UnknownOutcome=%v (%v); want true, false", Retryable(err), UnknownOutcome(err), err)
	}
}

func TestRenewalFailureIsNotUnknown(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.accessTTL = -time.Minute
	s, _, _ := connected(t, f)
	f.set(func(f *fakePDS) {
		f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
			if nsid != "com.atproto.server.refreshSession" {
				return false
			}
			xrpcError(w, 503, "ServiceUnavailable", "try later")
			return true
		}
	})
	c, _ := s.Client(ctx, fakeDID)
	_, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`))
	if !Retryable(err) || UnknownOutcome(err) {
		t.Errorf("refresh 503: Retryable=%v UnknownOutcome=%v (%v); want true, false", Retryable(err), UnknownOutcome(err), err)
	}
	if n := f.count("com.atproto.repo.createRecord"); n != 0 {
		t.Errorf("write sent %d times without a session", n)
	}
}

func TestClassifyPlainErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		err                error
		retryable, unknown bool
	}{
		{"nil", nil, false, false},
		{"deadline before sending", context.DeadlineExceeded, true, false},
		{"revoked", ErrRevoked, false, false},
		{"no session", ErrNoSession, false, false},
		{"not found", ErrNotFound, false, false},
		{"408", &Error{Status: 408}, true, false},
		{"401", &Error{Status: 401, Name: "AuthenticationRequired"}, false, false},
		{"503 wrapped", errorsJoin(&Error{Status: 503}), true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Retryable(tc.err); got != tc.retryable {
				t.Errorf("Retryable = %v, want %v", got, tc.retryable)
			}
			if got := UnknownOutcome(tc.err); got != tc.unknown {
				t.Errorf("UnknownOutcome = %v, want %v", got, tc.unknown)
			}
		})
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Time
	}{
		{"none", http.Header{}, time.Time{}},
		{"ratelimit-reset epoch", http.Header{"Ratelimit-Reset": {"1772355660"}}, time.Unix(1772355660, 0)},
		{"retry-after seconds", http.Header{"Retry-After": {"30"}}, now.Add(30 * time.Second)},
		{"retry-after date", http.Header{"Retry-After": {"Sun, 01 Mar 2026 09:05:00 GMT"}}, now.Add(5 * time.Minute)},
		{"ratelimit-reset wins", http.Header{"Ratelimit-Reset": {"1772355660"}, "Retry-After": {"30"}}, time.Unix(1772355660, 0)},
		{"garbage", http.Header{"Retry-After": {"soon"}}, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := retryAfter(tc.h, now); !got.Equal(tc.want) {
				t.Errorf("retryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	e := &Error{Status: 429, Name: "RateLimitExceeded", Message: strings.Repeat("m", 10), RetryAfter: time.Unix(1772355660, 0)}
	want := "pds: HTTP 429 RateLimitExceeded: mmmmmmmmmm (retry after 2026-03-01T09:01:00Z)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func errorsJoin(err error) error { return errors.Join(errors.New("createRecord"), err) }

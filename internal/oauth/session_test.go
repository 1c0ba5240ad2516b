package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/pds"
)

var ctx = context.Background()

var postJSON = []byte(`{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-01-01T00:00:00.000Z"}`)

func TestWriteWithFreshSession(t *testing.T) {
	t.Parallel()
	s := newFakeSetup(t, false)
	c := s.client(t)
	res, err := pdsClient(t, c, fakeDID).CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON)
	if err != nil {
		t.Fatal(err)
	}
	if res.CID != "bafyfake" || res.Rev != "rev1" {
		t.Errorf("Result = %+v", res)
	}
	if refreshes, writes := s.f.counts(); refreshes != 0 || writes != 1 {
		t.Errorf("%d refreshes, %d writes; want 0, 1", refreshes, writes)
	}
}

// TestRefreshRace: processes (Clients sharing KV) and goroutines of one
// process all find the access token expired at once. One refresh token
// request is made, every write lands, and the stored session holds the
// tokens the authorization server considers current.
func TestRefreshRace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		clients, perClient int
	}{
		{"two processes", 2, 1},
		{"one process, four goroutines", 1, 4},
		{"three processes, two goroutines each", 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newFakeSetup(t, true)
			s.f.delay = 100 * time.Millisecond
			var writers []pds.Client
			for range tt.clients {
				p := pdsClient(t, s.client(t), fakeDID) // loaded before anyone refreshes
				for range tt.perClient {
					writers = append(writers, p)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, len(writers))
			for i, p := range writers {
				wg.Go(func() { _, errs[i] = p.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
			refreshes, writes := s.f.counts()
			if refreshes != 1 || writes != len(writers) {
				t.Errorf("%d refreshes, %d writes; want 1, %d", refreshes, writes, len(writers))
			}
			got := stored(t, s.client(t), fakeDID)
			s.f.mu.Lock()
			defer s.f.mu.Unlock()
			if s.f.dead || got.Data.RefreshToken != s.f.refresh || got.Data.AccessToken != s.f.access || got.leased(time.Now()) {
				t.Errorf("after the race: grant dead %v, stored %s/%s, server %s/%s, leased %v",
					s.f.dead, got.Data.AccessToken, got.Data.RefreshToken, s.f.access, s.f.refresh, got.leased(time.Now()))
			}
		})
	}
}

// TestRefreshOnInvalidToken: a token the PDS refuses though it has not
// expired by the clock is refreshed and the write sent again.
func TestRefreshOnInvalidToken(t *testing.T) {
	t.Parallel()
	s := newFakeSetup(t, false)
	c := s.client(t)
	mutate(t, c, fakeDID, func(ss *storedSession) { ss.Data.AccessToken = "at-stale" })
	if _, err := pdsClient(t, c, fakeDID).CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON); err != nil {
		t.Fatal(err)
	}
	if refreshes, writes := s.f.counts(); refreshes != 1 || writes != 1 {
		t.Errorf("%d refreshes, %d writes; want 1, 1", refreshes, writes)
	}
}

// TestRefreshRefused: invalid_grant ends the grant for good; 5xx is
// temporary and leaves the session to the next attempt.
func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		breakIt     func(*fakeServer)
		revoked     bool
		temporary   bool
		authorized  bool
		retryable   bool
		recoverable bool
	}{
		{"invalid_grant", func(f *fakeServer) { f.dead = true }, true, false, false, false, false},
		{"503", func(f *fakeServer) { f.fail = http.StatusServiceUnavailable }, false, true, true, true, true},
		{"429", func(f *fakeServer) { f.fail = http.StatusTooManyRequests }, false, true, true, true, true},
		{"invalid_client", func(f *fakeServer) { f.fail = http.StatusUnauthorized }, false, false, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newFakeSetup(t, true)
			c := s.client(t)
			s.f.mu.Lock()
			tt.breakIt(s.f)
			s.f.mu.Unlock()
			_, err := pdsClient(t, c, fakeDID).CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON)
			if err == nil {
				t.Fatal("write succeeded")
			}
			if errors.Is(err, ErrRevoked) != tt.revoked || errors.Is(err, pds.ErrRevoked) != tt.revoked ||
				errors.Is(err, ErrTemporary) != tt.temporary || pds.Retryable(err) != tt.retryable || pds.UnknownOutcome(err) {
				t.Errorf("err = %v: revoked %v temporary %v retryable %v unknown %v",
					err, errors.Is(err, ErrRevoked), errors.Is(err, ErrTemporary), pds.Retryable(err), pds.UnknownOutcome(err))
			}
			if strings.Contains(err.Error(), "rt-0") || strings.Contains(err.Error(), "at-0") {
				t.Errorf("error shows a token: %v", err)
			}
			if ok, _ := c.Authorized(ctx, fakeDID); ok != tt.authorized {
				t.Errorf("Authorized = %v, want %v", ok, tt.authorized)
			}
			if got := stored(t, c, fakeDID); got.leased(time.Now()) {
				t.Error("lease not released")
			}
			if _, err := c.APIClient(ctx, fakeDID); errors.Is(err, ErrRevoked) != tt.revoked {
				t.Errorf("APIClient after = %v", err)
			}
			if !tt.recoverable {
				return
			}
			s.f.mu.Lock()
			s.f.fail = 0
			s.f.mu.Unlock()
			if _, err := pdsClient(t, c, fakeDID).CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON); err != nil {
				t.Errorf("write once the server is back: %v", err)
			}
		})
	}
}

// TestLeaseOfDeadProcess: a lease left by a process that died is waited
// out, then taken over.
func TestLeaseOfDeadProcess(t *testing.T) {
	t.Parallel()
	s := newFakeSetup(t, true)
	c := s.client(t)
	const wait = 300 * time.Millisecond
	mutate(t, c, fakeDID, func(ss *storedSession) { ss.LeaseUntil = time.Now().Add(wait) })
	start := time.Now()
	if _, err := pdsClient(t, c, fakeDID).CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < wait {
		t.Errorf("write took %v; the lease should have held it back %v", took, wait)
	}
	if refreshes, _ := s.f.counts(); refreshes != 1 {
		t.Errorf("%d refreshes, want 1", refreshes)
	}
}

// TestLeaseWaitBoundedByContext: waiting for another process's refresh
// ends with the caller's context, as a temporary failure.
func TestLeaseWaitBoundedByContext(t *testing.T) {
	t.Parallel()
	s := newFakeSetup(t, true)
	c := s.client(t)
	mutate(t, c, fakeDID, func(ss *storedSession) { ss.LeaseUntil = time.Now().Add(time.Minute) })
	api, err := c.APIClient(ctx, fakeDID)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = api.Post(cctx, "com.atproto.repo.createRecord", map[string]any{"repo": fakeDID}, nil)
	if !errors.Is(err, ErrTemporary) {
		t.Errorf("err = %v; want ErrTemporary", err)
	}
}

func TestNoSession(t *testing.T) {
	t.Parallel()
	s := newFakeSetup(t, false)
	c := s.client(t)
	other := fakeDID + "x"
	if _, err := c.PDSClient(ctx, other); !errors.Is(err, ErrNotAuthorized) || !errors.Is(err, pds.ErrNoSession) {
		t.Errorf("PDSClient of an unknown account = %v", err)
	}
	if ok, err := c.Authorized(ctx, other); ok || err != nil {
		t.Errorf("Authorized = %v, %v", ok, err)
	}
	if err := c.Delete(ctx, other); err != nil {
		t.Errorf("Delete of a missing session: %v", err)
	}
	// A session deleted while a client holds it: the next refresh finds
	// nothing.
	p := pdsClient(t, c, fakeDID)
	if err := c.Delete(ctx, fakeDID); err != nil {
		t.Fatal(err)
	}
	s.f.mu.Lock()
	s.f.access = "at-elsewhere"
	s.f.mu.Unlock()
	_, err := p.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", postJSON)
	if !errors.Is(err, pds.ErrNoSession) || pds.Retryable(err) {
		t.Errorf("write after Delete = %v; want ErrNoSession, not retryable", err)
	}
}

func TestSessionAuthString(t *testing.T) {
	t.Parallel()
	s := newFakeSetup(t, false)
	c := s.client(t)
	api, err := c.APIClient(ctx, fakeDID)
	if err != nil {
		t.Fatal(err)
	}
	dpop := stored(t, c, fakeDID).Data.DPoPPrivateKeyMultibase
	for _, v := range []string{fmt.Sprint(api.Auth), fmt.Sprintf("%+v %#v", api.Auth, api.Auth)} {
		if strings.Contains(v, "at-0") || strings.Contains(v, "rt-0") || strings.Contains(v, dpop) {
			t.Errorf("auth prints %q", v)
		}
	}
}

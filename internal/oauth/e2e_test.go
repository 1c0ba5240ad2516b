package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/seal"
)

// TestRealPDS authorizes alf at Bluesky's PDS (the TLS-mode harness) as a
// confidential client, with the browser step played headlessly, then
// writes through the session, forces a refresh, races two processes'
// refreshes, and ends with a dead grant.
func TestRealPDS(t *testing.T) {
	h := pdstest.LoadTLS(t)
	alice := h.Account(t, 0)
	did := syntax.DID(alice.DID)
	ctx := context.Background()

	hc := h.HTTPClient(t)
	refreshes := &tokenCounter{rt: hc.Transport}
	counted := &http.Client{Transport: refreshes, Timeout: hc.Timeout}

	buckets := testBuckets(t, natstest.Provisioned(t))
	key, _ := seal.NewKey()
	seedClientKey(t, buckets, key)

	var mu sync.Mutex
	var authorized []Authorization
	var logs syncBuffer
	cfg := Config{
		Log:               slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ServiceURL:        pdstest.OAuthClientOrigin,
		Collections:       []string{"app.bsky.feed.post"},
		RedirectOrigins:   []string{"https://app.e2e.internal"},
		Key:               key,
		Buckets:           buckets,
		HTTPClient:        counted,
		Directory:         &identity.BaseDirectory{PLCURL: h.PLCURL, HTTPClient: *hc, SkipHandleVerification: true},
		HandleResolverURL: h.PublicURL,
		OnAuthorized: func(_ context.Context, a Authorization) error {
			mu.Lock()
			defer mu.Unlock()
			authorized = append(authorized, a)
			return nil
		},
	}
	c1, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	serveClient(t, h.ClientAddr, c1.Handler())

	// Authorization: /oauth/authorize → the PDS's sign-in and consent →
	// /oauth/callback → 302 to the app with did= added to its query.
	start := time.Now()
	rec := get(t, c1.Handler(), "/oauth/authorize?handle="+alice.Handle+"&redirect_uri="+url.QueryEscape("https://app.e2e.internal/done?tab=posts"))
	if rec.Code != http.StatusFound {
		t.Fatalf("authorize: HTTP %d %s", rec.Code, rec.Body)
	}
	params, err := pdstest.Authorize(ctx, hc, rec.Header().Get("Location"), alice.Handle, alice.Password)
	if err != nil {
		t.Fatalf("sign in and consent: %v", err)
	}
	rec = get(t, c1.Handler(), "/oauth/callback?"+params.Encode())
	if want := "https://app.e2e.internal/done?tab=posts&did=" + url.QueryEscape(alice.DID); rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
		t.Fatalf("callback: HTTP %d Location %q %s; want 302 %s", rec.Code, rec.Header().Get("Location"), rec.Body, want)
	}
	t.Logf("authorized in %v", time.Since(start).Round(time.Millisecond))
	mu.Lock()
	if len(authorized) != 1 || authorized[0].DID != did || authorized[0].Host != h.PublicURL {
		t.Fatalf("OnAuthorized got %+v; want one for %s at %s", authorized, did, h.PublicURL)
	}
	if granted := scopeString(authorized[0].Scopes); granted != c1.Scope() {
		t.Errorf("granted scope %q, asked for %q", granted, c1.Scope())
	}
	mu.Unlock()
	if ok, err := c1.Authorized(ctx, did); !ok || err != nil {
		t.Fatalf("Authorized = %v, %v", ok, err)
	}
	if rec := get(t, c1.Handler(), "/oauth/callback?"+params.Encode()); rec.Code != http.StatusInternalServerError {
		t.Errorf("callback replayed: HTTP %d, want 500", rec.Code)
	}

	// A record through the session's pds.Client.
	pc := pdsClient(t, c1, did)
	rkey := syntax.NewTIDNow(0).String()
	res, err := pc.CreateRecord(ctx, "app.bsky.feed.post", rkey, post("scheduled by alf over OAuth"))
	if err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if cid, _, err := pc.GetRecord(ctx, "app.bsky.feed.post", rkey); err != nil || cid != res.CID {
		t.Fatalf("GetRecord = %s, %v; want %s", cid, err, res.CID)
	}

	// A forced refresh: the stored access token has "expired".
	before := stored(t, c1, did)
	n := refreshes.n.Load()
	mutate(t, c1, did, func(s *storedSession) { s.ExpiresAt = time.Now().Add(-time.Minute) })
	if _, err := pdsClient(t, c1, did).PutRecord(ctx, "app.bsky.feed.post", rkey, post("edited after a refresh")); err != nil {
		t.Fatalf("PutRecord after refresh: %v", err)
	}
	after := stored(t, c1, did)
	if refreshes.n.Load() != n+1 || after.Data.RefreshToken == before.Data.RefreshToken || !after.ExpiresAt.After(time.Now()) {
		t.Fatalf("refresh: %d token requests, rotated %v, expires %v", refreshes.n.Load()-n, after.Data.RefreshToken != before.Data.RefreshToken, after.ExpiresAt)
	}

	// A token the PDS refuses (the one the refresh replaced) is refreshed
	// on the PDS's invalid_token answer, and the write is sent again.
	n = refreshes.n.Load()
	mutate(t, c1, did, func(s *storedSession) { s.Data.AccessToken = before.Data.AccessToken })
	if _, err := pdsClient(t, c1, did).PutRecord(ctx, "app.bsky.feed.post", rkey, post("edited after a refused token")); err != nil {
		t.Fatalf("PutRecord with a refused token: %v", err)
	}
	if got := refreshes.n.Load() - n; got != 1 {
		t.Errorf("refused token: %d token requests, want 1", got)
	}

	// Two processes race to refresh: one token request, both writes land,
	// and the session survives (a later refresh works).
	c2, c3 := newClient(t, cfg), newClient(t, cfg)
	mutate(t, c1, did, func(s *storedSession) { s.ExpiresAt = time.Now().Add(-time.Minute) })
	p2, p3 := pdsClient(t, c2, did), pdsClient(t, c3, did)
	n = refreshes.n.Load()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []pds.Client{p2, p3} {
		wg.Go(func() {
			_, errs[i] = p.CreateRecord(ctx, "app.bsky.feed.post", syntax.NewTIDNow(uint(i+1)).String(), post("raced"))
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("racing writes: %v, %v", errs[0], errs[1])
	}
	if got := refreshes.n.Load() - n; got != 1 {
		t.Errorf("racing refreshes made %d token requests, want 1", got)
	}
	mutate(t, c1, did, func(s *storedSession) { s.ExpiresAt = time.Now().Add(-time.Minute) })
	if _, err := pdsClient(t, c1, did).DeleteRecord(ctx, "app.bsky.feed.post", rkey); err != nil {
		t.Fatalf("write after the race (session lost?): %v", err)
	}

	// A dead grant: the authorization server refuses the refresh token.
	mutate(t, c1, did, func(s *storedSession) {
		s.ExpiresAt = time.Now().Add(-time.Minute)
		s.Data.RefreshToken = "ref-" + strings.Repeat("0", 64)
	})
	_, err = pdsClient(t, c1, did).CreateRecord(ctx, "app.bsky.feed.post", syntax.NewTIDNow(3).String(), post("never"))
	if !errors.Is(err, ErrRevoked) || !errors.Is(err, pds.ErrRevoked) || pds.Retryable(err) || pds.UnknownOutcome(err) {
		t.Fatalf("write with a dead grant = %v; want ErrRevoked, not retryable", err)
	}
	if strings.Contains(err.Error(), "ref-0000") {
		t.Errorf("error shows the refresh token: %v", err)
	}
	if ok, _ := c1.Authorized(ctx, did); ok {
		t.Error("Authorized after the grant died")
	}
	if err := c1.Delete(ctx, did); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.APIClient(ctx, did); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("APIClient after Delete = %v; want ErrNotAuthorized", err)
	}

	// Without redirect_uri the callback answers JSON; Delete revokes the
	// grant at the authorization server, not only in alf.
	bob := h.Account(t, 1)
	bobDID := syntax.DID(bob.DID)
	rec = get(t, c1.Handler(), "/oauth/authorize?handle="+bob.DID)
	if rec.Code != http.StatusFound {
		t.Fatalf("authorize bob: HTTP %d %s", rec.Code, rec.Body)
	}
	if params, err = pdstest.Authorize(ctx, hc, rec.Header().Get("Location"), bob.Handle, bob.Password); err != nil {
		t.Fatalf("bob: sign in and consent: %v", err)
	}
	rec = get(t, c1.Handler(), "/oauth/callback?"+params.Encode())
	if want := `{"success":true,"did":"` + bob.DID + `","message":"` + successMessage + `"}`; rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("callback without redirect: HTTP %d %s", rec.Code, rec.Body)
	}
	kept := stored(t, c1, bobDID)
	for _, secret := range []string{before.Data.AccessToken, before.Data.RefreshToken, after.Data.RefreshToken,
		kept.Data.RefreshToken, kept.Data.DPoPPrivateKeyMultibase, params.Get("code")} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("alf's log shows a secret")
		}
	}
	if err := c1.Delete(ctx, bobDID); err != nil {
		t.Fatal(err)
	}
	kept.ExpiresAt = time.Now().Add(-time.Minute)
	if _, err := c1.store.putSession(ctx, kept); err != nil {
		t.Fatal(err)
	}
	_, err = pdsClient(t, c1, bobDID).CreateRecord(ctx, "app.bsky.feed.post", syntax.NewTIDNow(4).String(), post("never"))
	if !errors.Is(err, ErrRevoked) {
		t.Errorf("write with a deleted (revoked) session's tokens = %v; want ErrRevoked", err)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tokenCounter counts requests to an OAuth token endpoint.
type tokenCounter struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (c *tokenCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Path == "/oauth/token" {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(req)
}

// seedClientKey stores a fixed client key: the PDS caches a client's JWKS
// for ten minutes, so runs against one harness must present the same key.
func seedClientKey(t *testing.T, b Buckets, key seal.Key) {
	t.Helper()
	sum := sha256.Sum256([]byte("alf e2e OAuth client key"))
	priv, err := atcrypto.ParsePrivateBytesP256(sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealClientKey(key, priv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Keys.Put(context.Background(), clientKeyKey, sealed); err != nil {
		t.Fatal(err)
	}
}

// serveClient serves h at addr (the PDS fetches the client metadata and
// JWKS there) until the test ends.
func serveClient(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("serve client metadata at %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pdsClient(t *testing.T, c *Client, did syntax.DID) pds.Client {
	t.Helper()
	p, err := c.PDSClient(context.Background(), did)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func post(text string) []byte {
	return []byte(`{"$type":"app.bsky.feed.post","text":"` + text + `","createdAt":"` + time.Now().UTC().Format(record.TimeFormat) + `"}`)
}

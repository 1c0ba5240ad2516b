package oauth

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/seal"
)

// secret values the stored types hold; none may show in KV or in print.
const (
	secretAccess   = "at-secret-access-token"
	secretRefresh  = "rt-secret-refresh-token"
	secretVerifier = "pkce-secret-verifier"
	secretDPoP     = "zDnaeSecretDPoPKeyMultibase"
)

func newStore(t *testing.T, now func() time.Time) *store {
	t.Helper()
	b := testBuckets(t, natstest.Provisioned(t))
	key, _ := seal.NewKey()
	return &store{requests: b.Requests, sessions: b.Sessions, key: key, now: now, requestTTL: events.OAuthRequestTTL}
}

func testSession() storedSession {
	return storedSession{Data: oauth.ClientSessionData{
		AccountDID: fakeDID, HostURL: "https://pds.example", AccessToken: secretAccess,
		RefreshToken: secretRefresh, DPoPPrivateKeyMultibase: secretDPoP,
	}, AuthorizedAt: time.Now().UTC().Truncate(time.Second)}
}

func TestSessionSealedRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStore(t, time.Now)
	in := testSession()
	if _, err := s.putSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	raw, err := s.sessions.Get(ctx, SessionKey(fakeDID))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{secretAccess, secretRefresh, secretDPoP, string(fakeDID)} {
		if strings.Contains(string(raw.Value()), secret) {
			t.Errorf("KV value holds %q in the clear", secret)
		}
	}
	if !strings.HasPrefix(SessionKey(fakeDID), "oauth.") || SessionKey(fakeDID) == pds.SessionKey(fakeDID) {
		t.Errorf("SessionKey %q collides with app-password sessions", SessionKey(fakeDID))
	}
	out, rev, err := s.session(ctx, fakeDID)
	if err != nil {
		t.Fatal(err)
	}
	if out.Data.AccessToken != secretAccess || out.Data.RefreshToken != secretRefresh || !out.AuthorizedAt.Equal(in.AuthorizedAt) || rev != raw.Revision() {
		t.Errorf("round trip: %+v rev %d", out.Data, rev)
	}

	other, _ := seal.NewKey()
	s2 := *s
	s2.key = other
	if _, _, err := s2.session(ctx, fakeDID); !errors.Is(err, ErrNotAuthorized) || strings.Contains(err.Error(), secretRefresh) {
		t.Errorf("session under another ENCRYPTION_KEY = %v; want ErrNotAuthorized", err)
	}
}

func TestSessionCompareAndSwap(t *testing.T) {
	t.Parallel()
	s := newStore(t, time.Now)
	rev, err := s.putSession(ctx, testSession())
	if err != nil {
		t.Fatal(err)
	}
	// Two writers read revision rev; exactly one of them may write.
	var wg sync.WaitGroup
	var won, lost int
	var mu sync.Mutex
	for i := range 8 {
		wg.Go(func() {
			next := testSession()
			next.Data.RefreshToken = fmt.Sprintf("rt-%d", i)
			_, err := s.updateSession(ctx, next, rev)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, errConflict):
				lost++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != 7 {
		t.Errorf("%d writes won, %d lost; want 1, 7", won, lost)
	}
}

func TestStoredTypesRedact(t *testing.T) {
	t.Parallel()
	values := []any{
		testSession(),
		pendingRequest{Info: oauth.AuthRequestData{PKCEVerifier: secretVerifier, DPoPPrivateKeyMultibase: secretDPoP}},
		storedKey{Private: secretDPoP},
		tokenResponse{AccessToken: secretAccess, RefreshToken: secretRefresh},
	}
	for _, v := range values {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			got := fmt.Sprintf(format, v)
			for _, secret := range []string{secretAccess, secretRefresh, secretVerifier, secretDPoP} {
				if strings.Contains(got, secret) {
					t.Errorf("%T printed with %s shows a secret: %s", v, format, got)
				}
			}
		}
	}
}

func TestPendingRequests(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newStore(t, clock)
	p := pendingRequest{Info: oauth.AuthRequestData{State: "st-1", PKCEVerifier: secretVerifier}, RedirectURI: "https://app.example/done"}
	if err := s.saveRequest(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.saveRequest(ctx, p); err == nil {
		t.Error("a state was saved twice")
	}
	raw, _ := s.requests.Get(ctx, requestKey("st-1"))
	if strings.Contains(string(raw.Value()), secretVerifier) || strings.Contains(string(raw.Value()), "app.example") {
		t.Error("pending request stored in the clear")
	}
	got, err := s.request(ctx, "st-1")
	if err != nil || got.RedirectURI != p.RedirectURI || got.Info.PKCEVerifier != secretVerifier {
		t.Fatalf("request = %+v, %v", got.Info, err)
	}
	for _, state := range []string{"st-2", "", "*", "a.b>c"} {
		if _, err := s.request(ctx, state); !errors.Is(err, errUnknownState) {
			t.Errorf("request(%q) = %v; want errUnknownState", state, err)
		}
	}

	mu.Lock()
	now = now.Add(events.OAuthRequestTTL + time.Second)
	mu.Unlock()
	if _, err := s.request(ctx, "st-1"); !errors.Is(err, errUnknownState) {
		t.Errorf("request older than the TTL = %v; want errUnknownState", err)
	}
	if err := s.deleteRequest(ctx, "st-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.deleteRequest(ctx, "st-1"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}

// TestRequestBucketTTL: the bucket itself forgets pending requests.
func TestRequestBucketTTL(t *testing.T) {
	t.Parallel()
	js := natstest.Provisioned(t)
	kv, err := js.KeyValue(ctx, events.BucketOAuthRequests)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != 10*time.Minute {
		t.Errorf("provisioned %s TTL = %v, want 10m", events.BucketOAuthRequests, st.TTL())
	}

	short, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "short_requests", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := seal.NewKey()
	s := &store{requests: short, key: key, now: time.Now, requestTTL: time.Hour}
	if err := s.saveRequest(ctx, pendingRequest{Info: oauth.AuthRequestData{State: "st-1"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.request(ctx, "st-1")
		if errors.Is(err, errUnknownState) {
			return
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("request still there after the bucket TTL: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	// {"alg":"none"}.{"exp":1900000000}
	jwt := "eyJhbGciOiJub25lIn0.eyJleHAiOjE5MDAwMDAwMDB9."
	if got := tokenExpiry(jwt); !got.Equal(time.Unix(1900000000, 0)) {
		t.Errorf("tokenExpiry = %v", got)
	}
	if got := tokenExpiry("opaque-token"); !got.IsZero() {
		t.Errorf("tokenExpiry of an opaque token = %v, want zero", got)
	}
}

package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/seal"
)

const fakeDID = syntax.DID("did:plc:fakefakefakefakefakefake")

// fakeServer is an authorization server and PDS in one, strict the way
// @atproto/oauth-provider is: refresh tokens are single-use and spending an
// old one kills the whole grant; the PDS wants a DPoP nonce and refuses
// any access token but the current one with invalid_token.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server
	// jwks checks client assertions (nil: a public client, none expected).
	jwks     func() (JWKS, error)
	clientID string

	mu        sync.Mutex
	access    string // the current access token
	refresh   string // the current refresh token
	dead      bool   // the grant was killed
	gen       int
	refreshes int
	fail      int           // status to answer the next refreshes with (0: none)
	delay     time.Duration // before answering a refresh, to widen races
	writes    int
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, access: "at-0", refresh: "rt-0"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.HandleFunc("POST /xrpc/com.atproto.repo.createRecord", f.createRecord)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) token(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("DPoP") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", "DPoP proof required")
		return
	}
	if err := f.checkAssertion(r.PostFormValue("client_assertion_type"), r.PostFormValue("client_assertion")); err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	switch rt := r.PostFormValue("refresh_token"); {
	case f.fail != 0:
		code := "server_error"
		if f.fail == http.StatusUnauthorized {
			code = "invalid_client"
		}
		oauthError(w, f.fail, code, "try later")
		return
	case r.PostFormValue("grant_type") != "refresh_token":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	case f.dead:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
		return
	case rt != f.refresh:
		f.dead = true
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Refresh token replayed")
		return
	}
	f.gen++
	f.access, f.refresh = fmt.Sprintf("at-%d", f.gen), fmt.Sprintf("rt-%d", f.gen)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": f.access, "refresh_token": f.refresh, "token_type": "DPoP",
		"scope": "atproto", "sub": fakeDID, "expires_in": 3600,
	})
}

// checkAssertion verifies a client assertion against the client's JWKS.
func (f *fakeServer) checkAssertion(typ, assertion string) error {
	if f.jwks == nil {
		return nil
	}
	if typ != oauth.ClientAssertionJWTBearer {
		return fmt.Errorf("client_assertion_type %q", typ)
	}
	set, err := f.jwks()
	if err != nil || len(set.Keys) != 1 {
		return fmt.Errorf("client JWKS: %v", err)
	}
	k := set.Keys[0]
	pub, err := atcrypto.ParsePublicJWK(atcrypto.JWK{KeyType: k.Kty, Curve: k.Crv, X: k.X, Y: k.Y})
	if err != nil {
		return err
	}
	var claims jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(assertion, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != k.Kid {
			return nil, fmt.Errorf("kid %v, JWKS has %s", tok.Header["kid"], k.Kid)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(f.srv.URL), jwt.WithIssuer(f.clientID), jwt.WithSubject(f.clientID))
	if err != nil || !tok.Valid {
		return fmt.Errorf("client assertion: %v", err)
	}
	return nil
}

func (f *fakeServer) createRecord(w http.ResponseWriter, r *http.Request) {
	const nonce = "pds-nonce-1"
	w.Header().Set("DPoP-Nonce", nonce)
	proof := r.Header.Get("DPoP")
	var claims struct {
		jwt.RegisteredClaims
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		ATH   string `json:"ath"`
		Nonce string `json:"nonce"`
	}
	if _, _, err := jwt.NewParser().ParseUnverified(proof, &claims); err != nil || claims.HTM != r.Method || claims.HTU != f.srv.URL+r.URL.Path {
		http.Error(w, `{"error":"InvalidDPoP"}`, http.StatusBadRequest)
		return
	}
	if claims.Nonce != nonce {
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
	f.mu.Lock()
	ok := token == f.access && !f.dead && claims.ATH == oauth.S256CodeChallenge(token)
	if ok {
		f.writes++
	}
	f.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", error_description="Invalid token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"uri":"at://%s/app.bsky.feed.post/3kabc","cid":"bafyfake","commit":{"cid":"bafycommit","rev":"rev1"}}`, fakeDID)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (f *fakeServer) counts() (refreshes, writes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes, f.writes
}

// fakeSetup is a provisioned NATS, a fake server and a session for
// fakeDID stored in KV.
type fakeSetup struct {
	f   *fakeServer
	cfg Config
}

// newFakeSetup stores a session with the fake's current tokens; expired
// makes its access token already expired.
func newFakeSetup(t *testing.T, expired bool) *fakeSetup {
	t.Helper()
	f := newFakeServer(t)
	key, _ := seal.NewKey()
	cfg := Config{
		ServiceURL: "https://alf.example.com",
		Key:        key,
		Buckets:    testBuckets(t, natstest.Provisioned(t)),
		HTTPClient: f.srv.Client(),
	}
	s := &fakeSetup{f: f, cfg: cfg}
	c := s.client(t)
	f.jwks, f.clientID = c.JWKS, c.ClientID()
	dpop, err := atcrypto.GeneratePrivateKeyP256()
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if expired {
		exp = time.Now().Add(-time.Minute)
	}
	sess := storedSession{
		Data: oauth.ClientSessionData{
			AccountDID:              fakeDID,
			SessionID:               "state-1",
			HostURL:                 f.srv.URL,
			AuthServerURL:           f.srv.URL,
			AuthServerTokenEndpoint: f.srv.URL + "/oauth/token",
			Scopes:                  []string{"atproto"},
			AccessToken:             f.access,
			RefreshToken:            f.refresh,
			DPoPPrivateKeyMultibase: dpop.Multibase(),
		},
		ExpiresAt:    exp,
		AuthorizedAt: time.Now(),
	}
	if _, err := c.store.putSession(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	return s
}

// client is one process's Client on the setup's shared state.
func (s *fakeSetup) client(t *testing.T) *Client { return newClient(t, s.cfg) }

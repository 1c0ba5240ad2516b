package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/pdstest"
)

// TestDPoPRealPDS runs a real OAuth authorization-code flow against the
// harness PDS (tools/pds) for alice, pins what its DPoP-bound access token
// contains, and shows how the verifier treats it: the token is HS256, signed
// with the PDS's secret, so alf cannot verify it and refuses it; and a
// forged ES256 token with the right claims is refused because the PDS's
// JWKS, found through alice's DID document, publishes no key.
func TestDPoPRealPDS(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	alice := h.Account(t, 0)
	key, err := atcrypto.GeneratePrivateKeyP256()
	if err != nil {
		t.Fatal(err)
	}
	app, err := pdstest.ClientLogin(t.Context(), &http.Client{Timeout: 10 * time.Second}, h.PDSURL, alice.Handle, alice.Password, key)
	if err != nil {
		t.Fatalf("alice's own OAuth sign-in: %v", err)
	}
	token := app.Data.AccessToken
	jkt, err := pdstest.JKT(app.DPoPPrivateKey)
	if err != nil {
		t.Fatal(err)
	}

	// What the real token contains.
	at := strings.Split(token, ".")
	var header map[string]any
	var claims struct {
		Iss, Sub, Aud, Jti string
		Scope              *string
		ClientID           string `json:"client_id"`
		Iat, Exp           int64
		Cnf                struct{ Jkt string }
	}
	decodeSegment(t, at[0], &header)
	decodeSegment(t, at[1], &claims)
	if header["alg"] != "HS256" || header["typ"] != "at+jwt" {
		t.Errorf("token header = %v, want alg HS256, typ at+jwt", header)
	}
	if claims.Iss != h.PDSURL || claims.Sub != alice.DID || claims.Aud != "did:web:localhost" ||
		claims.Cnf.Jkt != jkt || claims.Scope != nil || claims.ClientID == "" ||
		claims.Exp <= claims.Iat || !strings.HasPrefix(claims.Jti, "tok-") {
		t.Errorf("token claims = %+v", claims)
	}

	v, err := auth.NewDPoPVerifier(auth.DPoPConfig{
		Directory:  auth.NewDirectory(h.PLCURL, nil),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, // the default refuses loopback
		PublicURL:  "http://localhost:1986",
		AllowHTTP:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(token, proof string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://localhost:1986"+alfPath, nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", proof)
		return r
	}

	proof, err := app.NewHostDPoP(http.MethodPost, "http://localhost:1986"+alfPath)
	if err != nil {
		t.Fatal(err)
	}
	r := call(token, proof)
	_, err = v.Verify(context.Background(), r)
	assertRefused(t, err, "algorithm (alg)", r)

	forger := newKey(t, "ES256")
	forged := forger.sign(t, map[string]any{"typ": "at+jwt", "kid": "k"}, map[string]any{
		"iss": claims.Iss, "sub": claims.Sub, "aud": claims.Aud, "jti": "tok-forged",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]any{"jkt": forger.thumbprint()},
	})
	r = call(forged, forger.sign(t, map[string]any{"typ": "dpop+jwt", "jwk": forger.jwk}, map[string]any{
		"jti": "p-" + rand.Text(), "htm": http.MethodPost, "htu": "http://localhost:1986" + alfPath,
		"iat": time.Now().Unix(), "ath": ath(forged),
	}))
	_, err = v.Verify(context.Background(), r)
	assertRefused(t, err, "key (kid) is not published", r)
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := b64.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

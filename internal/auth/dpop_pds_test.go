package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

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
	client := newKey(t, "ES256")
	token := oauthLogin(t, h.PDSURL, alice.Handle, alice.Password, client)

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
		claims.Cnf.Jkt != client.thumbprint() || claims.Scope != nil || claims.ClientID == "" ||
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
	call := func(token string, signer *jwtKey) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://localhost:1986"+alfPath, nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", signer.sign(t, map[string]any{"typ": "dpop+jwt", "jwk": signer.jwk}, map[string]any{
			"jti": "p-" + rand.Text(), "htm": http.MethodPost, "htu": "http://localhost:1986" + alfPath,
			"iat": time.Now().Unix(), "ath": ath(token),
		}))
		return r
	}

	r := call(token, client)
	_, err = v.Verify(context.Background(), r)
	assertRefused(t, err, "algorithm (alg)", r)

	forger := newKey(t, "ES256")
	forged := forger.sign(t, map[string]any{"typ": "at+jwt", "kid": "k"}, map[string]any{
		"iss": claims.Iss, "sub": claims.Sub, "aud": claims.Aud, "jti": "tok-forged",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]any{"jkt": forger.thumbprint()},
	})
	r = call(forged, forger)
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

// oauthLogin signs handle in to the PDS at iss with a loopback OAuth client
// (PAR, the authorization page's sign-in and consent API, token endpoint)
// and returns the access token bound to the DPoP key.
func oauthLogin(t *testing.T, iss, handle, password string, key *jwtKey) string {
	t.Helper()
	hc := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cookies := map[string]string{} // the provider's cookies are Secure; send them over http anyway
	var nonce string
	do := func(req *http.Request) (*http.Response, []byte) {
		t.Helper()
		var parts []string
		for k, v := range cookies {
			parts = append(parts, k+"="+v)
		}
		req.Header.Set("Cookie", strings.Join(parts, "; "))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, c := range resp.Cookies() {
			cookies[c.Name] = c.Value
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			nonce = n
		}
		return resp, body
	}
	postDPoP := func(path string, form url.Values, out any) {
		t.Helper()
		for try := 0; ; try++ {
			req, _ := http.NewRequest(http.MethodPost, iss+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			c := map[string]any{"jti": rand.Text(), "htm": http.MethodPost, "htu": iss + path, "iat": time.Now().Unix()}
			if nonce != "" {
				c["nonce"] = nonce
			}
			req.Header.Set("DPoP", key.sign(t, map[string]any{"typ": "dpop+jwt", "jwk": key.jwk}, c))
			resp, body := do(req)
			if resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("use_dpop_nonce")) && try == 0 {
				continue
			}
			if resp.StatusCode/100 != 2 {
				t.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
			}
			if err := json.Unmarshal(body, out); err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			return
		}
	}

	const redirect = "http://127.0.0.1/callback"
	const scope = "atproto transition:generic"
	clientID := "http://localhost?redirect_uri=" + url.QueryEscape(redirect) + "&scope=" + url.QueryEscape(scope)
	verifier := rand.Text() + rand.Text()
	challenge := sha256.Sum256([]byte(verifier))

	var par struct {
		RequestURI string `json:"request_uri"`
	}
	postDPoP("/oauth/par", url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"s"}, "code_challenge": {b64.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"},
		"login_hint": {handle},
	}, &par)

	page := iss + "/oauth/authorize?client_id=" + url.QueryEscape(clientID) + "&request_uri=" + url.QueryEscape(par.RequestURI)
	req, _ := http.NewRequest(http.MethodGet, page, nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	if resp, body := do(req); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorization page: %d %.200s", resp.StatusCode, body)
	}
	api := func(endpoint string, in, out any) {
		t.Helper()
		b, _ := json.Marshal(in)
		req, _ := http.NewRequest(http.MethodPost, iss+"/@atproto/oauth-provider/~api"+endpoint, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Sec-Fetch-Mode", "same-origin")
		req.Header.Set("Origin", iss)
		req.Header.Set("Referer", page)
		req.Header.Set("X-Csrf-Token", cookies["csrf-token"])
		resp, body := do(req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", endpoint, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v", endpoint, err)
		}
	}
	var signIn struct {
		Account struct{ Sub, DID string } `json:"account"`
	}
	api("/sign-in", map[string]any{"locale": "en", "username": handle, "password": password, "remember": true}, &signIn)
	var consent struct{ URL string }
	did := signIn.Account.DID
	if did == "" {
		did = signIn.Account.Sub
	}
	api("/consent", map[string]any{"did": did}, &consent)
	u, err := url.Parse(consent.URL)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("consent gave no code (%v)", err)
	}

	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	postDPoP("/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {clientID},
	}, &tok)
	if tok.TokenType != "DPoP" || tok.AccessToken == "" {
		t.Fatalf("token response: type %q, token present %v", tok.TokenType, tok.AccessToken != "")
	}
	return tok.AccessToken
}

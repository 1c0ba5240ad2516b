package pdstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// ClientLogin signs username in to the authorization server issuer (which
// is also the PDS, as on the harness) as an app of its own would: a
// loopback public OAuth client (indigo's NewLocalhostConfig, no alf
// involved) with the DPoP key key, a pushed authorization request
// with PKCE, the authorization page played by Authorize, and the code
// traded at the token endpoint. The proofs are indigo's.
//
// It returns the app's session: its NewHostDPoP makes a proof for a
// request to any resource server (alf included) and its APIClient calls
// the PDS, answering DPoP nonces itself.
func ClientLogin(ctx context.Context, hc *http.Client, issuer, username, password string, key atcrypto.PrivateKey) (*oauth.ClientSession, error) {
	cfg := oauth.NewLocalhostConfig("http://127.0.0.1/callback", []string{"atproto", "transition:generic"})
	verifier := rand.Text() + rand.Text()
	ep := &authEndpoint{hc: hc, key: key}

	var par struct {
		RequestURI string `json:"request_uri"`
	}
	if err := ep.post(ctx, issuer+"/oauth/par", url.Values{
		"client_id": {cfg.ClientID}, "response_type": {"code"}, "redirect_uri": {cfg.CallbackURL},
		"scope": {strings.Join(cfg.Scopes, " ")}, "state": {rand.Text()},
		"code_challenge": {oauth.S256CodeChallenge(verifier)}, "code_challenge_method": {"S256"},
		"login_hint": {username},
	}, &par); err != nil {
		return nil, err
	}
	page := issuer + "/oauth/authorize?client_id=" + url.QueryEscape(cfg.ClientID) + "&request_uri=" + url.QueryEscape(par.RequestURI)
	back, err := Authorize(ctx, hc, page, username, password)
	if err != nil {
		return nil, err
	}
	if back.Get("code") == "" {
		return nil, fmt.Errorf("authorization gave no code (error %q)", back.Get("error"))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Sub         string `json:"sub"`
	}
	if err := ep.post(ctx, issuer+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Get("code")}, "redirect_uri": {cfg.CallbackURL},
		"code_verifier": {verifier}, "client_id": {cfg.ClientID},
	}, &tok); err != nil {
		return nil, err
	}
	did, err := syntax.ParseDID(tok.Sub)
	if tok.TokenType != "DPoP" || tok.AccessToken == "" || err != nil {
		return nil, fmt.Errorf("token endpoint: token type %q, access token present %v, sub %q", tok.TokenType, tok.AccessToken != "", tok.Sub)
	}
	return &oauth.ClientSession{
		Client: hc,
		Config: &cfg,
		Data: &oauth.ClientSessionData{
			AccountDID: did, HostURL: issuer, AuthServerURL: issuer, Scopes: cfg.Scopes,
			AccessToken: tok.AccessToken, DPoPAuthServerNonce: ep.nonce,
		},
		DPoPPrivateKey:         key,
		PersistSessionCallback: func(context.Context, *oauth.ClientSessionData) {}, // nothing to keep
	}, nil
}

// JKT is the RFC 7638 thumbprint of the DPoP key's public JWK: the cnf.jkt
// of the tokens bound to it. Computed here, not by alf's verifier, so
// tests check one against the other.
func JKT(key atcrypto.PrivateKey) (string, error) {
	pub, err := key.PublicKey()
	if err != nil {
		return "", err
	}
	jwk, err := pub.JWK()
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q,"y":%q}`, jwk.Curve, jwk.KeyType, jwk.X, jwk.Y)
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// authEndpoint posts forms to an authorization server with indigo's DPoP
// proofs, retrying once with the server's nonce when it asks for one
// (use_dpop_nonce).
type authEndpoint struct {
	hc    *http.Client
	key   atcrypto.PrivateKey
	nonce string
}

func (e *authEndpoint) post(ctx context.Context, target string, form url.Values, out any) error {
	for try := 0; ; try++ {
		proof, err := oauth.NewAuthDPoP(http.MethodPost, target, e.nonce, e.key)
		if err != nil {
			return fmt.Errorf("DPoP proof: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		resp, err := e.hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			e.nonce = n
		}
		if resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("use_dpop_nonce")) && try == 0 {
			continue
		}
		if resp.StatusCode/100 != 2 {
			// The error body of the provider names the problem and holds
			// no secret; a success body holds tokens and is never shown.
			return fmt.Errorf("POST %s: HTTP %d %.300s", req.URL.Path, resp.StatusCode, body)
		}
		return json.Unmarshal(body, out)
	}
}

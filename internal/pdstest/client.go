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
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
)

var b64 = base64.RawURLEncoding

// DPoPKey is the P-256 key an OAuth client of its own binds its tokens to
// (RFC 9449): the key of an app that holds its own session with the PDS,
// as the clients of the service alf replaces do.
type DPoPKey struct {
	priv atcrypto.PrivateKey
	jwk  map[string]any
}

// NewDPoPKey makes a fresh P-256 DPoP key.
func NewDPoPKey() (*DPoPKey, error) {
	priv, err := atcrypto.GeneratePrivateKeyP256()
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	raw := pub.(*atcrypto.PublicKeyP256).UncompressedBytes()
	return &DPoPKey{priv: priv, jwk: map[string]any{
		"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:65]),
	}}, nil
}

// Thumbprint is the key's RFC 7638 thumbprint, the cnf.jkt of its tokens.
func (k *DPoPKey) Thumbprint() string {
	s := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, k.jwk["x"], k.jwk["y"])
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

// Proof is a DPoP proof for a request of method to target (htu: the URL
// without query or fragment), with the server's nonce when it gave one
// and, for a resource request, the hash of accessToken (ath).
func (k *DPoPKey) Proof(method, target, nonce, accessToken string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("proof htu: %w", err)
	}
	u.RawQuery, u.Fragment = "", ""
	claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": u.String(), "iat": time.Now().Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = b64.EncodeToString(sum[:])
	}
	h, err := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sig, err := k.priv.HashAndSign([]byte(in))
	if err != nil {
		return "", fmt.Errorf("sign proof: %w", err)
	}
	return in + "." + b64.EncodeToString(sig), nil
}

// ClientToken is what ClientLogin gets from the token endpoint.
type ClientToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Sub         string `json:"sub"`
	Scope       string `json:"scope"`
}

// ClientLogin signs username in to the authorization server issuer as a
// loopback OAuth client of its own (client_id http://localhost…, public,
// no alf involved): a pushed authorization request with PKCE and a DPoP
// proof, the authorization page played by Authorize, and the code traded
// at the token endpoint. The tokens are bound to key.
func ClientLogin(ctx context.Context, hc *http.Client, issuer, username, password string, key *DPoPKey) (*ClientToken, error) {
	const redirect = "http://127.0.0.1/callback"
	const scope = "atproto transition:generic"
	clientID := "http://localhost?redirect_uri=" + url.QueryEscape(redirect) + "&scope=" + url.QueryEscape(scope)
	verifier := rand.Text() + rand.Text()
	challenge := sha256.Sum256([]byte(verifier))
	ep := &dpopEndpoint{hc: hc, key: key}

	var par struct {
		RequestURI string `json:"request_uri"`
	}
	if err := ep.post(ctx, issuer+"/oauth/par", url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {rand.Text()}, "code_challenge": {b64.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"}, "login_hint": {username},
	}, &par); err != nil {
		return nil, err
	}
	page := issuer + "/oauth/authorize?client_id=" + url.QueryEscape(clientID) + "&request_uri=" + url.QueryEscape(par.RequestURI)
	back, err := Authorize(ctx, hc, page, username, password)
	if err != nil {
		return nil, err
	}
	if back.Get("code") == "" {
		return nil, fmt.Errorf("authorization gave no code (error %q)", back.Get("error"))
	}
	var tok ClientToken
	if err := ep.post(ctx, issuer+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {clientID},
	}, &tok); err != nil {
		return nil, err
	}
	if tok.TokenType != "DPoP" || tok.AccessToken == "" {
		return nil, fmt.Errorf("token endpoint: token type %q, access token present %v", tok.TokenType, tok.AccessToken != "")
	}
	return &tok, nil
}

// dpopEndpoint posts forms with DPoP proofs, retrying once with the
// server's nonce when it asks for one (use_dpop_nonce).
type dpopEndpoint struct {
	hc    *http.Client
	key   *DPoPKey
	nonce string
}

func (e *dpopEndpoint) post(ctx context.Context, target string, form url.Values, out any) error {
	for try := 0; ; try++ {
		proof, err := e.key.Proof(http.MethodPost, target, e.nonce, "")
		if err != nil {
			return err
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

package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
)

// tokenResponse is a token endpoint's answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	Subject      string `json:"sub"`
	ExpiresIn    int64  `json:"expires_in"`
}

// String keeps the tokens out of logs.
func (tokenResponse) String() string { return "oauth.tokenResponse(redacted)" }

// GoString keeps the tokens out of %#v.
func (tokenResponse) GoString() string { return "oauth.tokenResponse(redacted)" }

// maxTokenBody bounds what alf reads of a token endpoint's answer.
const maxTokenBody = 64 << 10

// refreshTokens spends d's refresh token at the authorization server and
// returns the new tokens. It updates d's auth server DPoP nonce. The
// caller must hold the session's refresh lease. Errors are *TokenError
// (invalid_grant ends the grant) or transport failures wrapped so that
// they match ErrTemporary; none contains a token.
func (c *Client) refreshTokens(ctx context.Context, d *oauth.ClientSessionData, dpopKey atcrypto.PrivateKey) (tokenResponse, error) {
	form := url.Values{
		"client_id":     {c.cfg.ClientID},
		"grant_type":    {"refresh_token"},
		"refresh_token": {d.RefreshToken},
	}
	for attempt := 0; ; attempt++ {
		tr, err := c.postToken(ctx, d, dpopKey, form)
		var te *TokenError
		if attempt == 0 && errors.As(err, &te) && te.Code == "use_dpop_nonce" {
			continue // the nonce from this answer is in d now
		}
		if err != nil {
			return tokenResponse{}, err
		}
		if err := tr.check(d); err != nil {
			return tokenResponse{}, err
		}
		return tr, nil
	}
}

// postToken makes one token request with a fresh DPoP proof and, for a
// confidential client, a fresh client assertion (their jti are single-use).
func (c *Client) postToken(ctx context.Context, d *oauth.ClientSessionData, dpopKey atcrypto.PrivateKey, form url.Values) (tokenResponse, error) {
	body := url.Values{}
	for k, v := range form {
		body[k] = v
	}
	if c.cfg.IsConfidential() {
		assertion, err := c.cfg.NewClientAssertion(d.AuthServerURL)
		if err != nil {
			return tokenResponse{}, fmt.Errorf("client assertion: %w", err)
		}
		body.Set("client_assertion_type", oauth.ClientAssertionJWTBearer)
		body.Set("client_assertion", assertion)
	}
	proof, err := oauth.NewAuthDPoP(http.MethodPost, d.AuthServerTokenEndpoint, d.DPoPAuthServerNonce, dpopKey)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("DPoP proof: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.AuthServerTokenEndpoint, strings.NewReader(body.Encode()))
	if err != nil {
		return tokenResponse{}, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("DPoP", proof)
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return tokenResponse{}, &temporary{fmt.Errorf("token request: %w", err)}
	}
	defer resp.Body.Close()
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		d.DPoPAuthServerNonce = n
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return tokenResponse{}, &temporary{fmt.Errorf("token response: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return tokenResponse{}, tokenError(resp.StatusCode, raw)
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil {
		return tokenResponse{}, &temporary{errors.New("token response is not JSON")}
	}
	return tr, nil
}

// check validates a refresh answer against the session it renews.
func (tr tokenResponse) check(d *oauth.ClientSessionData) error {
	switch {
	case tr.AccessToken == "" || tr.RefreshToken == "":
		return errors.New("token response without tokens")
	case !strings.EqualFold(tr.TokenType, "DPoP"):
		return fmt.Errorf("token response: token_type %q, want DPoP", tr.TokenType)
	case tr.Subject != "" && tr.Subject != d.AccountDID.String():
		return fmt.Errorf("token response is for %s, not %s", tr.Subject, d.AccountDID)
	}
	return nil
}

// expiry is when the new access token expires: expires_in, else the
// token's own exp claim.
func (tr tokenResponse) expiry(now time.Time) time.Time {
	if tr.ExpiresIn > 0 {
		return now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return tokenExpiry(tr.AccessToken)
}

const maxDescription = 200

func tokenError(status int, raw []byte) *TokenError {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(raw, &body)
	te := &TokenError{Status: status, Code: body.Error, Description: body.Description}
	if len(te.Description) > maxDescription {
		te.Description = te.Description[:maxDescription] + "…"
	}
	return te
}

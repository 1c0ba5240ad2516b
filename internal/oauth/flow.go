package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

var errBadIdentifier = errors.New("not a handle or DID")

// errHook: OnAuthorized failed.
var errHook = errors.New("recording the authorization failed")

// start begins the authorization of the account identifier names (handle
// or DID): it resolves the account's PDS and authorization server, sends
// the pushed authorization request (PKCE, DPoP), keeps the request sealed
// in KV with redirect (may be empty), and returns the URL to send the user
// to.
func (c *Client) start(ctx context.Context, identifier, redirect string) (string, error) {
	id, err := syntax.ParseAtIdentifier(identifier)
	if err != nil {
		return "", errBadIdentifier
	}
	ident, err := c.lookup(ctx, id)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", id, err)
	}
	host := ident.PDSEndpoint()
	if host == "" {
		return "", fmt.Errorf("resolve %s: the DID document names no PDS", id)
	}
	asURL, err := c.app.Resolver.ResolveAuthServerURL(ctx, host)
	if err != nil {
		return "", fmt.Errorf("authorization server of %s: %w", host, err)
	}
	meta, err := c.app.Resolver.ResolveAuthServerMetadata(ctx, asURL)
	if err != nil {
		return "", fmt.Errorf("authorization server %s: %w", asURL, err)
	}
	info, err := c.app.SendAuthRequest(ctx, meta, c.cfg.Scopes, identifier)
	if err != nil {
		return "", fmt.Errorf("authorization request to %s: %w", asURL, err)
	}
	did := ident.DID
	info.AccountDID = &did
	if err := c.store.saveRequest(ctx, pendingRequest{Info: *info, RedirectURI: redirect}); err != nil {
		return "", err
	}
	q := url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {info.RequestURI}}
	return meta.AuthorizationEndpoint + "?" + q.Encode(), nil
}

// lookup resolves an account identifier to its identity.
func (c *Client) lookup(ctx context.Context, id syntax.AtIdentifier) (*identity.Identity, error) {
	h, err := id.AsHandle()
	if c.resolver == "" || err != nil {
		return c.app.Dir.Lookup(ctx, id)
	}
	did, err := c.resolveHandle(ctx, h)
	if err != nil {
		return nil, err
	}
	return c.app.Dir.LookupDID(ctx, did)
}

// resolveHandle asks HANDLE_RESOLVER_URL for a handle's DID.
func (c *Client) resolveHandle(ctx context.Context, h syntax.Handle) (syntax.DID, error) {
	api := atclient.APIClient{Client: c.hc, Host: c.resolver, Headers: http.Header{"User-Agent": []string{userAgent}}}
	var out struct {
		DID string `json:"did"`
	}
	if err := api.Get(ctx, "com.atproto.identity.resolveHandle", map[string]any{"handle": h.String()}, &out); err != nil {
		return "", fmt.Errorf("resolve handle: %w", err)
	}
	did, err := syntax.ParseDID(out.DID)
	if err != nil {
		return "", fmt.Errorf("resolve handle: %w", err)
	}
	return did, nil
}

// complete finishes the authorization a callback's query reports: it
// exchanges the code (indigo checks state, issuer and account), stores the
// session, and tells OnAuthorized. It returns the account and the redirect
// URI the authorization was started with ("" if none).
func (c *Client) complete(ctx context.Context, params url.Values) (Authorization, string, error) {
	state := params.Get("state")
	p, err := c.store.request(ctx, state)
	if err != nil {
		return Authorization{}, "", err
	}
	sd, err := c.app.ProcessCallback(ctx, params)
	if err != nil {
		// A state is used once, like the code it came with.
		if derr := c.store.deleteRequest(ctx, state); derr != nil {
			c.log.Warn("oauth: could not delete a failed authorization request", "err", derr)
		}
		return Authorization{}, "", err
	}
	a := Authorization{DID: sd.AccountDID, Host: sd.HostURL, Scopes: sd.Scopes}
	if c.hook != nil {
		if err := c.hook(ctx, a); err != nil {
			return a, "", fmt.Errorf("%w: %w", errHook, err)
		}
	}
	return a, p.RedirectURI, nil
}

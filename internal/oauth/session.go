package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

const (
	// refreshTimeout bounds one refresh at the authorization server.
	refreshTimeout = 15 * time.Second
	// leaseTTL is how long a refresh holds the session. It outlasts
	// refreshTimeout, so a lease never runs out while its refresh is in
	// flight; a process that dies holding one delays the others this long.
	leaseTTL = refreshTimeout + 5*time.Second
	// saveTimeout bounds writing a session back, even when the caller's
	// context has ended: a refresh token that was spent must be stored.
	saveTimeout = 5 * time.Second
)

// sessionAuth is the atclient.AuthMethod of one account's OAuth session:
// DPoP-bound access token, DPoP nonces, and refreshes. Refreshes are shared
// through KV: at most one process spends the single-use refresh token at a
// time (it holds a lease written with compare-and-swap), and the others
// wait for its result and continue with the winner's tokens.
type sessionAuth struct {
	c   *Client
	did syntax.DID

	mu   sync.Mutex
	cur  storedSession
	rev  uint64 // KV revision cur was read at or written as
	dpop atcrypto.PrivateKey
	// nonce is the PDS's latest DPoP nonce. It is kept here, not only in
	// cur: a session reloaded from KV may carry an older one.
	nonce string
}

// String keeps the session out of logs.
func (a *sessionAuth) String() string { return "oauth.sessionAuth(" + a.did.String() + ", redacted)" }

// GoString keeps the session out of %#v.
func (a *sessionAuth) GoString() string { return a.String() }

func (c *Client) newSessionAuth(did syntax.DID, sess storedSession, rev uint64) (*sessionAuth, error) {
	a := &sessionAuth{c: c, did: did}
	if err := a.adoptLocked(sess, rev); err != nil {
		return nil, err
	}
	return a, nil
}

// adoptLocked makes sess the session in use.
func (a *sessionAuth) adoptLocked(sess storedSession, rev uint64) error {
	if a.dpop == nil || sess.Data.DPoPPrivateKeyMultibase != a.cur.Data.DPoPPrivateKeyMultibase {
		key, err := atcrypto.ParsePrivateMultibase(sess.Data.DPoPPrivateKeyMultibase)
		if err != nil {
			return notAuthorized(a.did, errors.New("stored session has no valid DPoP key"))
		}
		a.dpop = key
	}
	a.cur, a.rev = sess, rev
	if a.nonce == "" {
		a.nonce = sess.Data.DPoPHostNonce
	}
	return nil
}

// DoWithAuth sends req with the access token and a DPoP proof. It sends
// it again once with a new DPoP nonce when the PDS asks for one, and once
// after a refresh when the PDS says the token is invalid.
func (a *sessionAuth) DoWithAuth(c *http.Client, req *http.Request, _ syntax.NSID) (*http.Response, error) {
	ctx := req.Context()
	token, nonce, err := a.access(ctx)
	if err != nil {
		return nil, err
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		resp, err := a.send(c, req, token, nonce)
		if err != nil {
			return nil, err
		}
		next := retryFor(resp, nonce, refreshed)
		if next == retryNone || attempt == 2 || (req.GetBody == nil && req.Body != nil) {
			return resp, nil
		}
		drain(resp)
		switch next {
		case retryNonce:
			nonce = resp.Header.Get("DPoP-Nonce")
		case retryRefreshed:
			if err := a.renew(ctx, token); err != nil {
				return nil, err
			}
			token, nonce = a.held()
			refreshed = true
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// send sends req once and keeps the DPoP nonce the PDS answers with.
func (a *sessionAuth) send(c *http.Client, req *http.Request, token, nonce string) (*http.Response, error) {
	if err := a.authorize(req, token, nonce); err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if fresh := resp.Header.Get("DPoP-Nonce"); fresh != "" && fresh != nonce {
		a.setNonce(fresh)
	}
	return resp, nil
}

type retry int

const (
	retryNone      retry = iota
	retryNonce           // with the nonce the PDS just gave
	retryRefreshed       // after refreshing the access token
)

// retryFor reads a PDS's 401 challenge (RFC 9449 §8, RFC 6750 §3).
func retryFor(resp *http.Response, nonce string, refreshed bool) retry {
	if resp.StatusCode != http.StatusUnauthorized {
		return retryNone
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	fresh := resp.Header.Get("DPoP-Nonce")
	switch {
	case strings.Contains(challenge, `error="use_dpop_nonce"`) && fresh != "" && fresh != nonce:
		return retryNonce
	case strings.Contains(challenge, `error="invalid_token"`) && !refreshed:
		return retryRefreshed
	}
	return retryNone
}

// authorize sets the Authorization and DPoP headers of req.
func (a *sessionAuth) authorize(req *http.Request, token, nonce string) error {
	a.mu.Lock()
	d := oauth.ClientSessionData{AccessToken: token, AuthServerURL: a.cur.Data.AuthServerURL, DPoPHostNonce: nonce}
	key := a.dpop
	a.mu.Unlock()
	proof, err := (&oauth.ClientSession{Data: &d, DPoPPrivateKey: key}).NewHostDPoP(req.Method, dpopURL(req.URL))
	if err != nil {
		return fmt.Errorf("DPoP proof: %w", err)
	}
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	return nil
}

// access returns a current access token and the host DPoP nonce,
// refreshing first when the token held has expired.
func (a *sessionAuth) access(ctx context.Context) (token, nonce string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur.revoked() {
		return "", "", revoked(a.did, nil)
	}
	if a.cur.expired(a.c.now()) {
		if err := a.refreshLocked(ctx, a.cur.Data.AccessToken); err != nil {
			return "", "", err
		}
	}
	return a.cur.Data.AccessToken, a.nonce, nil
}

func (a *sessionAuth) held() (token, nonce string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur.Data.AccessToken, a.nonce
}

func (a *sessionAuth) setNonce(nonce string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nonce = nonce
}

// renew replaces the access token stale, unless a call of this session
// already did.
func (a *sessionAuth) renew(ctx context.Context, stale string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur.Data.AccessToken != stale {
		return nil
	}
	return a.refreshLocked(ctx, stale)
}

// refreshLocked makes the session's access token something other than
// stale and unexpired: by adopting what another process stored, or by
// refreshing under a lease.
func (a *sessionAuth) refreshLocked(ctx context.Context, stale string) error {
	for {
		if err := ctx.Err(); err != nil {
			return &temporary{fmt.Errorf("refresh OAuth tokens of %s: %w", a.did, err)}
		}
		sess, rev, err := a.c.store.session(ctx, a.did)
		if err != nil {
			return err
		}
		if err := a.adoptLocked(sess, rev); err != nil {
			return err
		}
		now := a.c.now()
		switch {
		case sess.revoked():
			return revoked(a.did, nil)
		case sess.Data.AccessToken != stale && !sess.expired(now):
			return nil // refreshed by another process
		case sess.leased(now):
			if err := a.c.store.waitChange(ctx, a.did, rev, sess.LeaseUntil); err != nil {
				return &temporary{fmt.Errorf("wait for the refresh of %s by another process: %w", a.did, err)}
			}
			continue
		}
		err = a.refreshLeasedLocked(ctx)
		if errors.Is(err, errConflict) {
			continue // someone else moved first; look again
		}
		return err
	}
}

// refreshLeasedLocked takes the refresh lease on the session held, spends
// its refresh token and stores the outcome.
func (a *sessionAuth) refreshLeasedLocked(ctx context.Context) error {
	now := a.c.now()
	leased := a.cur
	leased.LeaseUntil = now.Add(leaseTTL)
	rev, err := a.c.store.updateSession(ctx, leased, a.rev)
	if err != nil {
		return err // errConflict: another process got the lease
	}
	a.cur, a.rev = leased, rev

	rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	tr, err := a.c.refreshTokens(rctx, &a.cur.Data, a.dpop)
	cancel()

	next := a.cur
	next.LeaseUntil = time.Time{}
	now = a.c.now()
	var te *TokenError
	switch {
	case errors.As(err, &te) && te.grantDead():
		next.RevokedAt = now
		if serr := a.saveLocked(ctx, next); serr != nil {
			a.c.log.Warn("oauth: could not record a revoked grant", "did", a.did, "err", serr)
		}
		return revoked(a.did, err)
	case err != nil:
		if serr := a.saveLocked(ctx, next); serr != nil {
			a.c.log.Warn("oauth: could not release a refresh lease", "did", a.did, "err", serr)
		}
		return fmt.Errorf("refresh OAuth tokens of %s: %w", a.did, err)
	}
	next.Data.AccessToken, next.Data.RefreshToken = tr.AccessToken, tr.RefreshToken
	if scopes := strings.Fields(tr.Scope); len(scopes) > 0 {
		next.Data.Scopes = scopes
	}
	next.Data.DPoPHostNonce = a.nonce
	next.ExpiresAt = tr.expiry(now)
	next.RefreshedAt = now
	if err := a.saveLocked(ctx, next); err != nil {
		// The new tokens work, but the stored refresh token is spent:
		// keep using them here and say so.
		a.cur = next
		return &temporary{fmt.Errorf("refreshed OAuth tokens of %s but could not store them: %w", a.did, err)}
	}
	return nil
}

// saveLocked writes next over the session held (compare-and-swap on its
// revision), even if ctx has ended.
func (a *sessionAuth) saveLocked(ctx context.Context, next storedSession) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	rev, err := a.c.store.updateSession(sctx, next, a.rev)
	if err != nil {
		return err
	}
	a.cur, a.rev = next, rev
	return nil
}

// rewind returns a copy of req to send again.
func rewind(req *http.Request) (*http.Request, error) {
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("retry request: %w", err)
		}
		retry.Body = body
	}
	return retry, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// dpopURL is the htu of a request: its URL without query and fragment.
func dpopURL(u *url.URL) string {
	v := *u
	v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = "", false, "", ""
	return v.String()
}

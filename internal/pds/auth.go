package pds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go/jetstream"
)

// expirySkew renews an access JWT this long before it expires.
const expirySkew = 30 * time.Second

// appAuth is the atclient.AuthMethod of an app-password session. It renews
// the tokens when needed (refresh, else log in again) and writes every
// renewal back to KV with compare-and-swap.
type appAuth struct {
	s   *Sessions
	did syntax.DID

	mu  sync.Mutex
	cur stored
	rev uint64 // KV revision cur was read at or written as
}

// String keeps the session out of logs.
func (a *appAuth) String() string { return "pds.appAuth(" + a.did.String() + ", redacted)" }

// GoString keeps the session out of %#v.
func (a *appAuth) GoString() string { return a.String() }

func (a *appAuth) DoWithAuth(c *http.Client, req *http.Request, _ syntax.NSID) (*http.Response, error) {
	ctx := req.Context()
	access, err := a.access(ctx)
	if err != nil {
		return nil, &renewError{err}
	}
	resp, err := send(c, req, access)
	if err != nil || !tokenRejected(resp) {
		return resp, err
	}
	if err := a.renew(ctx, access); err != nil {
		return nil, &renewError{err}
	}
	retry := req.Clone(ctx)
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("retry with renewed session: %w", err)
		}
	}
	access, err = a.access(ctx)
	if err != nil {
		return nil, &renewError{err}
	}
	return send(c, retry, access)
}

// access returns a current access JWT, renewing the session first when the
// one held has expired.
func (a *appAuth) access(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if claims(a.cur.AccessJwt).expired(time.Now()) {
		if err := a.renewLocked(ctx, a.cur.AccessJwt); err != nil {
			return "", err
		}
	}
	return a.cur.AccessJwt, nil
}

// renew replaces the access JWT stale, unless someone already did.
func (a *appAuth) renew(ctx context.Context, stale string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.renewLocked(ctx, stale)
}

func (a *appAuth) renewLocked(ctx context.Context, stale string) error {
	if a.cur.AccessJwt != stale {
		return nil // renewed by another call of this client
	}
	if err := a.reloadLocked(ctx); err != nil {
		return err
	}
	if a.cur.AccessJwt != stale && !claims(a.cur.AccessJwt).expired(time.Now()) {
		return nil // renewed by another client or process
	}
	next, err := a.s.refresh(ctx, a.did, a.cur)
	if refused(err) {
		next, err = a.s.login(ctx, a.did, a.cur)
		if errors.Is(err, ErrLoginRefused) {
			return fmt.Errorf("%w: %w", ErrRevoked, err)
		}
	}
	if err != nil {
		return err
	}
	return a.saveLocked(ctx, next)
}

func (a *appAuth) reloadLocked(ctx context.Context) error {
	sess, rev, err := a.s.load(ctx, a.did)
	if err != nil {
		return err
	}
	a.cur, a.rev = sess, rev
	return nil
}

// saveLocked writes next back if the stored session is still the one read
// at a.rev; if another writer got there first, its session is used instead.
func (a *appAuth) saveLocked(ctx context.Context, next stored) error {
	sealed, err := a.s.seal(next)
	if err != nil {
		return err
	}
	rev, err := a.s.kv.Update(ctx, SessionKey(a.did), sealed, a.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return a.reloadLocked(ctx)
	}
	if err != nil {
		return fmt.Errorf("store renewed session: %w", err)
	}
	a.cur, a.rev = next, rev
	return nil
}

// tokenRejected reports an answer refusing the access JWT (ExpiredToken,
// InvalidToken). It reads the body of 400 and 401 answers and puts it back.
func tokenRejected(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return false
	}
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return false
	}
	return body.Error == "ExpiredToken" || body.Error == "InvalidToken"
}

// tokenClaims are the unverified claims alf reads from its own session
// JWTs: when they expire, and whether they come from an app password.
type tokenClaims struct {
	exp   time.Time
	scope string
}

func claims(token string) tokenClaims {
	var mc jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &mc); err != nil {
		return tokenClaims{}
	}
	var c tokenClaims
	if exp, err := mc.GetExpirationTime(); err == nil && exp != nil {
		c.exp = exp.Time
	}
	c.scope, _ = mc["scope"].(string)
	return c
}

// expired reports a token that expires within expirySkew. A token without a
// readable expiry is left to the PDS to judge.
func (c tokenClaims) expired(now time.Time) bool {
	return !c.exp.IsZero() && now.Add(expirySkew).After(c.exp)
}

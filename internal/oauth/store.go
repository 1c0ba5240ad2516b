package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/seal"
)

// Buckets are the JetStream KV buckets the OAuth client keeps its state
// in; events.Provision creates them.
type Buckets struct {
	// Keys holds the client key (alf_oauth).
	Keys jetstream.KeyValue
	// Requests holds pending authorization requests (alf_oauth_requests,
	// whose keys live events.OAuthRequestTTL).
	Requests jetstream.KeyValue
	// Sessions holds the OAuth sessions (alf_sessions, next to the
	// app-password sessions, under keys of their own).
	Sessions jetstream.KeyValue
}

// OpenBuckets opens alf's buckets for the OAuth client.
func OpenBuckets(ctx context.Context, js jetstream.JetStream) (Buckets, error) {
	var b Buckets
	for _, o := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{events.BucketOAuth, &b.Keys}, {events.BucketOAuthRequests, &b.Requests}, {events.BucketSessions, &b.Sessions}} {
		kv, err := js.KeyValue(ctx, o.name)
		if err != nil {
			return Buckets{}, fmt.Errorf("open bucket %s: %w", o.name, err)
		}
		*o.kv = kv
	}
	return b, nil
}

// pendingRequest is the sealed value of an authorization under way: what
// indigo needs to finish it (PKCE verifier, DPoP key, …) and where to send
// the user afterwards.
type pendingRequest struct {
	Info        oauth.AuthRequestData `json:"info"`
	RedirectURI string                `json:"redirectUri,omitempty"`
	CreatedAt   time.Time             `json:"createdAt"`
}

// String keeps the PKCE verifier and the DPoP key out of logs.
func (pendingRequest) String() string { return "oauth.pendingRequest(redacted)" }

// GoString keeps the PKCE verifier and the DPoP key out of %#v.
func (pendingRequest) GoString() string { return "oauth.pendingRequest(redacted)" }

// storedSession is the sealed value of an account's OAuth session.
type storedSession struct {
	Data oauth.ClientSessionData `json:"data"`
	// ExpiresAt is when the access token expires (zero: unknown).
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
	AuthorizedAt time.Time `json:"authorizedAt"`
	RefreshedAt  time.Time `json:"refreshedAt,omitzero"`
	// RevokedAt, when set, is when the authorization server refused the
	// refresh token: the grant is dead.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	// LeaseUntil, when in the future, says a refresh is under way: only
	// the process that set it may spend the refresh token until then.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
}

// String keeps tokens and the DPoP key out of logs.
func (storedSession) String() string { return "oauth.session(redacted)" }

// GoString keeps tokens and the DPoP key out of %#v.
func (storedSession) GoString() string { return "oauth.session(redacted)" }

// expired reports an access token that expires within expirySkew. An
// unknown expiry is left to the PDS to judge.
func (s storedSession) expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Add(expirySkew).Before(s.ExpiresAt)
}

func (s storedSession) leased(now time.Time) bool { return now.Before(s.LeaseUntil) }

func (s storedSession) revoked() bool { return !s.RevokedAt.IsZero() }

// expirySkew refreshes an access token this long before it expires.
const expirySkew = 30 * time.Second

// errConflict: the session changed since it was read.
var errConflict = errors.New("session changed concurrently")

// store keeps pending requests and sessions sealed in KV. It is indigo's
// ClientAuthStore, plus the compare-and-swap operations the token refresh
// needs.
type store struct {
	requests jetstream.KeyValue
	sessions jetstream.KeyValue
	key      seal.Key
	now      func() time.Time
	// requestTTL bounds a pending request's age even if the bucket was
	// made without a TTL.
	requestTTL time.Duration
}

var _ oauth.ClientAuthStore = (*store)(nil)

// SessionKey is the KV key of did's OAuth session in alf_sessions: "oauth."
// and the DID's token (events.Token).
func SessionKey(did syntax.DID) string { return "oauth." + events.Token(did.String()) }

// requestKey is the KV key of the pending request of an OAuth state. The
// state arrives in the callback's query, so it is hashed rather than
// trusted to be a valid key.
func requestKey(state string) string { return "req." + events.Token(state) }

// seal encodes v as JSON and seals it.
func (s *store) seal(v any) ([]byte, error) { return s.key.SealJSON(v) }

// open unseals and decodes a value made by seal.
func (s *store) open(sealed []byte, v any) error {
	err := s.key.OpenJSON(sealed, v)
	switch {
	case errors.Is(err, seal.ErrNotJSON):
		return errors.New("malformed")
	case err != nil:
		return fmt.Errorf("cannot be opened (ENCRYPTION_KEY changed?): %w", err)
	}
	return nil
}

// saveRequest stores a new pending request; a state is used once.
func (s *store) saveRequest(ctx context.Context, p pendingRequest) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	sealed, err := s.seal(p)
	if err != nil {
		return fmt.Errorf("save authorization request: %w", err)
	}
	if _, err := s.requests.Create(ctx, requestKey(p.Info.State), sealed); err != nil {
		return fmt.Errorf("save authorization request: %w", err)
	}
	return nil
}

// errUnknownState: no pending request for a callback's state (never made,
// already used, or older than the TTL).
var errUnknownState = errors.New("unknown or expired authorization request")

// request returns the pending request of state, or errUnknownState.
func (s *store) request(ctx context.Context, state string) (pendingRequest, error) {
	e, err := s.requests.Get(ctx, requestKey(state))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return pendingRequest{}, errUnknownState
	}
	if err != nil {
		return pendingRequest{}, fmt.Errorf("load authorization request: %w", err)
	}
	var p pendingRequest
	if err := s.open(e.Value(), &p); err != nil {
		return pendingRequest{}, fmt.Errorf("authorization request: %w", err)
	}
	if p.Info.State != state || s.now().Sub(p.CreatedAt) > s.requestTTL {
		return pendingRequest{}, errUnknownState
	}
	return p, nil
}

func (s *store) deleteRequest(ctx context.Context, state string) error {
	if err := s.requests.Delete(ctx, requestKey(state)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete authorization request: %w", err)
	}
	return nil
}

// session returns did's session and the KV revision it was read at, or an
// error matching ErrNotAuthorized.
func (s *store) session(ctx context.Context, did syntax.DID) (storedSession, uint64, error) {
	e, err := s.sessions.Get(ctx, SessionKey(did))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return storedSession{}, 0, notAuthorized(did, nil)
	}
	if err != nil {
		return storedSession{}, 0, fmt.Errorf("load OAuth session of %s: %w", did, err)
	}
	var sess storedSession
	if err := s.open(e.Value(), &sess); err != nil {
		return storedSession{}, 0, notAuthorized(did, fmt.Errorf("stored session %w", err))
	}
	if sess.Data.AccountDID != did {
		return storedSession{}, 0, notAuthorized(did, errors.New("stored session is for another account"))
	}
	return sess, e.Revision(), nil
}

// putSession stores sess, replacing any session of the account.
func (s *store) putSession(ctx context.Context, sess storedSession) (uint64, error) {
	sealed, err := s.seal(sess)
	if err != nil {
		return 0, fmt.Errorf("store OAuth session of %s: %w", sess.Data.AccountDID, err)
	}
	rev, err := s.sessions.Put(ctx, SessionKey(sess.Data.AccountDID), sealed)
	if err != nil {
		return 0, fmt.Errorf("store OAuth session of %s: %w", sess.Data.AccountDID, err)
	}
	return rev, nil
}

// updateSession stores sess if the session is still at revision rev, and
// returns the new revision; otherwise errConflict.
func (s *store) updateSession(ctx context.Context, sess storedSession, rev uint64) (uint64, error) {
	sealed, err := s.seal(sess)
	if err != nil {
		return 0, fmt.Errorf("store OAuth session of %s: %w", sess.Data.AccountDID, err)
	}
	next, err := s.sessions.Update(ctx, SessionKey(sess.Data.AccountDID), sealed, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("store OAuth session of %s: %w", sess.Data.AccountDID, err)
	}
	return next, nil
}

func (s *store) deleteSession(ctx context.Context, did syntax.DID) error {
	if err := s.sessions.Delete(ctx, SessionKey(did)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete OAuth session of %s: %w", did, err)
	}
	return nil
}

// waitChange waits until did's session is no longer at revision rev, until
// is reached, or ctx ends.
func (s *store) waitChange(ctx context.Context, did syntax.DID, rev uint64, until time.Time) error {
	w, err := s.sessions.Watch(ctx, SessionKey(did))
	if err != nil {
		return fmt.Errorf("watch OAuth session of %s: %w", did, err)
	}
	defer w.Stop()
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			// The first entry is the current value; nil marks the end of
			// the initial values.
			if e != nil && e.Revision() != rev {
				return nil
			}
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// GetSession implements oauth.ClientAuthStore. alf keeps one session per
// account, so sessionID is not used.
func (s *store) GetSession(ctx context.Context, did syntax.DID, _ string) (*oauth.ClientSessionData, error) {
	sess, _, err := s.session(ctx, did)
	if err != nil {
		return nil, err
	}
	return &sess.Data, nil
}

// SaveSession implements oauth.ClientAuthStore. indigo calls it when an
// authorization completes: the new session replaces the account's previous
// one (and a revoked one). Refreshes do not come here; they go through
// updateSession.
func (s *store) SaveSession(ctx context.Context, data oauth.ClientSessionData) error {
	now := s.now()
	_, err := s.putSession(ctx, storedSession{Data: data, AuthorizedAt: now, ExpiresAt: tokenExpiry(data.AccessToken)})
	return err
}

// DeleteSession implements oauth.ClientAuthStore.
func (s *store) DeleteSession(ctx context.Context, did syntax.DID, _ string) error {
	return s.deleteSession(ctx, did)
}

// GetAuthRequestInfo implements oauth.ClientAuthStore.
func (s *store) GetAuthRequestInfo(ctx context.Context, state string) (*oauth.AuthRequestData, error) {
	p, err := s.request(ctx, state)
	if err != nil {
		return nil, err
	}
	return &p.Info, nil
}

// SaveAuthRequestInfo implements oauth.ClientAuthStore.
func (s *store) SaveAuthRequestInfo(ctx context.Context, info oauth.AuthRequestData) error {
	return s.saveRequest(ctx, pendingRequest{Info: info})
}

// DeleteAuthRequestInfo implements oauth.ClientAuthStore.
func (s *store) DeleteAuthRequestInfo(ctx context.Context, state string) error {
	return s.deleteRequest(ctx, state)
}

// tokenExpiry reads the expiry of an access token that is a JWT, as a PDS's
// are, without verifying it (alf is not its audience). Zero if unknown.
func tokenExpiry(token string) time.Time {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}
	}
	return claims.ExpiresAt.Time
}

package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/pds"
)

var (
	// ErrRevoked: the account's grant is dead. The authorization server
	// refused the refresh token (invalid_grant: revoked by the user, expired,
	// or replayed), so no write can be made until the user authorizes alf
	// again. It also matches pds.ErrRevoked, so the publisher fails such a
	// draft at once with a reason a person can act on.
	ErrRevoked = errors.New("OAuth grant revoked or expired; the account has to authorize alf again")

	// ErrNotAuthorized: alf holds no OAuth session for the account. It also
	// matches pds.ErrNoSession.
	ErrNotAuthorized = errors.New("no OAuth session for this account")

	// ErrTemporary: the tokens could not be refreshed for now (the
	// authorization server answered 5xx or 429, was unreachable, or another
	// process's refresh did not finish in time). Try again later; the grant
	// itself may be fine.
	ErrTemporary = errors.New("OAuth token refresh temporarily impossible")
)

// grantError is a failure that matches one of this package's sentinels and
// the pds sentinel with the same meaning, so that pds.Retryable and
// pds.UnknownOutcome classify it without knowing this package.
type grantError struct {
	did    syntax.DID
	is     error // ErrRevoked or ErrNotAuthorized
	alias  error // pds.ErrRevoked or pds.ErrNoSession
	detail error // what happened, or nil
}

func (e *grantError) Error() string {
	msg := e.is.Error() + ": " + e.did.String()
	if e.detail != nil {
		msg += ": " + e.detail.Error()
	}
	return msg
}

func (e *grantError) Unwrap() []error {
	errs := []error{e.is, e.alias}
	if e.detail != nil {
		errs = append(errs, e.detail)
	}
	return errs
}

func revoked(did syntax.DID, detail error) error {
	return &grantError{did: did, is: ErrRevoked, alias: pds.ErrRevoked, detail: detail}
}

func notAuthorized(did syntax.DID, detail error) error {
	return &grantError{did: did, is: ErrNotAuthorized, alias: pds.ErrNoSession, detail: detail}
}

// TokenError is an error answer of the authorization server's token
// endpoint (RFC 6749 §5.2). It never holds a token: only the status, the
// OAuth error code and the server's description.
type TokenError struct {
	Status      int
	Code        string // e.g. invalid_grant, invalid_client, use_dpop_nonce
	Description string
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token endpoint: HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	return b.String()
}

// Is makes a 5xx or 429 answer match ErrTemporary.
func (e *TokenError) Is(target error) bool {
	return target == ErrTemporary && (e.Status >= 500 || e.Status == http.StatusTooManyRequests)
}

// grantDead reports the answer that ends a grant.
func (e *TokenError) grantDead() bool { return e.Code == "invalid_grant" }

// temporary wraps a failure that may go away (network, timeout) so that it
// matches ErrTemporary.
type temporary struct{ err error }

func (e *temporary) Error() string   { return e.err.Error() }
func (e *temporary) Unwrap() []error { return []error{e.err, ErrTemporary} }

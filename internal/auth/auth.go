// Package auth authenticates alf's inbound calls with atproto service-auth
// JWTs.
//
// Every alf RPC carries `Authorization: Bearer <JWT>`, where the JWT was
// minted by the caller's PDS (com.atproto.server.getServiceAuth) and signed
// with the atproto key in the caller's DID document. The token's aud must be
// alf's service DID (see [ServiceDID]) and its lxm the method being called:
// for a Connect procedure, [ProcedureLXM] of its path; for XRPC, the NSID.
//
// A gateway builds one [Verifier] and installs it on its handlers:
//
//	dir := auth.NewDirectory(cfg.PLCRoot, nil)
//	v := auth.NewVerifier(cfg.ServiceDID, dir)
//	path, h := alfv1connect.NewDraftServiceHandler(svc, connect.WithInterceptors(v.Interceptor()))
//	// in the handler: did, _ := auth.DIDFrom(ctx)
//
// Verified tokens are cached by their SHA-256 until they expire, so a client
// reusing one token pays for one signature check, not one per call.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	indigoauth "github.com/bluesky-social/indigo/atproto/auth"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated is wrapped by every error [Verifier.Verify] returns.
// The text after it says why, and never contains any of the token.
var ErrUnauthenticated = errors.New("service auth refused")

const (
	// leeway is the clock skew allowed on exp and iat.
	leeway = 5 * time.Second
	// maxHeaderLen bounds the Authorization header; service-auth tokens are
	// a few hundred bytes.
	maxHeaderLen = 8 << 10
	// maxCached bounds the verified-token cache.
	maxCached = 1 << 16
	// maxCacheAge bounds how long a verified token is trusted without a new
	// signature check (and so how long a rotated DID key goes unnoticed),
	// whatever the token's exp says.
	maxCacheAge = 5 * time.Minute
	// purgeEvery bounds how often a bad signature may purge one DID from
	// the directory, so forged tokens cannot make alf hammer the PLC.
	purgeEvery = 30 * time.Second
)

// acceptedAlgs are the JWT algorithms atproto keys sign with.
var acceptedAlgs = []string{"ES256", "ES256K"}

// Verifier checks service-auth tokens for one audience (alf's service DID).
// It is safe for concurrent use.
type Verifier struct {
	audience  string
	validator *indigoauth.ServiceAuthValidator
	cache     *tokenCache
	keys      *APIKeys      // nil: API keys are refused
	dpop      *DPoPVerifier // nil: the DPoP scheme is refused
}

// WithDPoP makes v accept DPoP-bound PDS access tokens too
// (Authorization: DPoP …, with a DPoP proof), checked by d, in
// VerifyRequest; and returns v.
func (v *Verifier) WithDPoP(d *DPoPVerifier) *Verifier {
	v.dpop = d
	return v
}

// VerifyRequest checks the credentials of an HTTP request for a call of
// lxm: a DPoP-bound access token and its proof when the Authorization
// scheme is DPoP (see WithDPoP), else the header as Verify does.
func (v *Verifier) VerifyRequest(ctx context.Context, r *http.Request, lxm string) (syntax.DID, error) {
	if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); v.dpop != nil && strings.EqualFold(scheme, "DPoP") {
		return v.dpop.Verify(ctx, r)
	}
	return v.Verify(ctx, r.Header.Get("Authorization"), lxm)
}

// WithAPIKeys makes v accept alf API keys (Bearer alf_…) from keys too, and
// returns v.
func (v *Verifier) WithAPIKeys(keys *APIKeys) *Verifier {
	v.keys = keys
	return v
}

// NewVerifier returns a Verifier accepting tokens whose aud is audience,
// signed by the key in the issuer's DID document as dir resolves it.
func NewVerifier(audience string, dir identity.Directory) *Verifier {
	return &Verifier{
		audience: audience,
		validator: &indigoauth.ServiceAuthValidator{
			Audience:        audience,
			Dir:             newPurgeThrottle(dir, purgeEvery),
			TimestampLeeway: leeway,
		},
		cache: newTokenCache(maxCached, time.Now),
	}
}

// ProcedureLXM returns the lxm a token must carry to call a Connect
// procedure: "/alf.v1.DraftService/CreateDraft" → "alf.v1.DraftService.CreateDraft".
func ProcedureLXM(procedure string) string {
	return strings.ReplaceAll(strings.TrimPrefix(procedure, "/"), "/", ".")
}

// claims are the service-auth JWT claims alf reads.
type claims struct {
	jwt.RegisteredClaims
	LXM string `json:"lxm,omitempty"`
}

// Verify checks authorization (a whole Authorization header value) for a
// call of method lxm and returns the caller's DID. Errors wrap
// [ErrUnauthenticated] and are safe to show to the caller.
func (v *Verifier) Verify(ctx context.Context, authorization string, lxm string) (syntax.DID, error) {
	token, err := bearerToken(authorization)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(token, APIKeyPrefix) {
		return v.verifyAPIKey(ctx, token, lxm)
	}
	key := sha256.Sum256([]byte(token))
	if e, ok := v.cache.get(key); ok {
		if e.lxm != lxm {
			return "", refuse("token is for another method (lxm)")
		}
		return e.did, nil
	}
	nsid, err := syntax.ParseNSID(lxm)
	if err != nil {
		return "", refuse("method %q is not a valid NSID", lxm)
	}
	c, err := v.precheck(token, lxm)
	if err != nil {
		return "", err
	}
	did, err := v.validator.Validate(ctx, token, &nsid)
	if err != nil {
		return "", explain(err)
	}
	v.cache.put(key, cacheEntry{did: did, lxm: lxm, exp: c.ExpiresAt.Time})
	return did, nil
}

// verifyAPIKey checks an alf API key for a call of lxm.
func (v *Verifier) verifyAPIKey(ctx context.Context, secret, lxm string) (syntax.DID, error) {
	if v.keys == nil {
		return "", refuse("API keys are not accepted here")
	}
	if keyManagement[lxm] {
		return "", refuse("an API key cannot manage API keys, connect the account or delete it; use a service-auth token")
	}
	return v.keys.lookup(ctx, secret)
}

// bearerToken extracts the token from "Bearer <token>".
func bearerToken(authorization string) (string, error) {
	if authorization == "" {
		return "", refuse("missing Authorization header")
	}
	if len(authorization) > maxHeaderLen {
		return "", refuse("Authorization header too long")
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", refuse(`Authorization header must be "Bearer <service-auth token>"`)
	}
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", refuse(`Authorization header must be "Bearer <service-auth token>"`)
	}
	return token, nil
}

// precheck reads the unverified token and refuses it early when its
// algorithm, issuer, audience, method or expiry are wrong, before any DID
// resolution or signature check. Validate checks all of them again.
func (v *Verifier) precheck(token, lxm string) (*claims, error) {
	var c claims
	parser := jwt.NewParser(jwt.WithoutClaimsValidation())
	t, _, err := parser.ParseUnverified(token, &c)
	if err != nil {
		return nil, explain(err)
	}
	if alg, _ := t.Header["alg"].(string); !slices.Contains(acceptedAlgs, alg) {
		return nil, refuse("token algorithm is not accepted (want ES256 or ES256K)")
	}
	if _, err := syntax.ParseDID(c.Issuer); err != nil {
		return nil, refuse("token issuer (iss) is not a DID")
	}
	if !slices.Contains(c.Audience, v.audience) {
		return nil, refuse("token audience (aud) is not this service")
	}
	if c.LXM != lxm {
		return nil, refuse("token is for another method (lxm)")
	}
	if c.ExpiresAt == nil {
		return nil, refuse("token has no expiry (exp)")
	}
	if time.Now().After(c.ExpiresAt.Add(leeway)) {
		return nil, refuse("token expired")
	}
	return &c, nil
}

// explain turns a JWT validation error into a safe refusal.
func explain(err error) error {
	switch {
	case errors.Is(err, identity.ErrDIDNotFound):
		return refuse("token issuer (iss) is an unknown DID")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse("token issuer (iss) could not be resolved")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse("token is not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse("token expired")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse("token is not valid yet (iat/nbf in the future)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse("token audience (aud) is not this service")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refuse("token lacks a required claim")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse("token signature is invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return refuse("token cannot be verified")
	default:
		return refuse("token rejected")
	}
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnauthenticated}, args...)...)
}

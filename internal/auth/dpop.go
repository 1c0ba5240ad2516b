package auth

// DPoP-bound PDS access tokens (the old service's "DPoP" scheme, §9.1 of
// the reference behaviour), verified properly.
//
// What a real PDS issues (@atproto/pds 0.5.35 with @atproto/oauth-provider
// 0.22.9, read from their source and checked against tools/pds): the
// access token is a JWS with header {"typ":"at+jwt","alg":...} and claims
//
//	iss        the authorization server's issuer URL (the PDS's own public
//	           URL, or the entryway's, e.g. https://bsky.social)
//	aud        the PDS's service DID, did:web:<PDS hostname> (the PDS
//	           default; it carries no port, so the loopback harness says
//	           did:web:localhost)
//	sub        the account DID
//	cnf.jkt    the RFC 7638 thumbprint of the client's DPoP key
//	jti, iat, exp, client_id
//	scope      absent: the PDS runs the provider in "stateful" mode and keeps
//	           scopes in its database
//
// and the signature is the catch: a PDS that is its own authorization
// server signs with HS256 under its PDS_JWT_SECRET (a shared secret that
// is never published; its JWKS at /oauth/jwks is {"keys":[]}), and a PDS
// behind an entryway (bsky.social) accepts ES256K tokens signed with the
// entryway's key, which by public reports bsky.social/oauth/jwks does not
// publish either (not checked from here). atproto's OAuth spec treats access
// tokens as opaque to everyone but the PDS (bluesky-social/atproto-website
// PR 606). TestDPoPRealPDS pins this. So this verifier accepts a token only
// when the authorization server publishes its signing key, and refuses
// every other token with a clear reason: it never trusts an unverified
// signature. The same provider with an asymmetric keyset (tools/pds's
// PDS_ACCESS_TOKEN_ALG) publishes its key, and its tokens are accepted
// end to end (internal/node TestDPoPClientOfItsOwnIsAccepted). For
// third-party services, atproto service-auth (see [Verifier]) is the
// scheme that works everywhere.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/util/ssrf"
	"github.com/golang-jwt/jwt/v5"
)

const (
	defaultProofWindow = 5 * time.Minute
	defaultKeysTTL     = 10 * time.Minute
	defaultMaxIssuers  = 1000
	// maxProofs bounds the replay cache: proofs seen within the window.
	maxProofs = 1 << 18
	// maxJTILen bounds a proof's jti.
	maxJTILen = 256
)

// DPoPConfig configures a [DPoPVerifier]. Only Directory and PublicURL are
// required.
type DPoPConfig struct {
	// Directory resolves the token's sub (a DID) to its DID document, whose
	// PDS endpoint is where the expected issuer is looked up.
	Directory identity.Directory
	// HTTPClient fetches the PDS's and the authorization server's metadata
	// and JWKS. Its redirects are never followed. Nil means a client with a
	// 10 s timeout that connects only to public IP addresses.
	HTTPClient *http.Client
	// PublicURL is alf's own public base URL, e.g. "https://alf.example.com";
	// a proof's htu must be PublicURL + the request path.
	PublicURL string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ProofWindow is the allowed |now − proof iat| (default 5 min, plus a
	// few seconds of leeway). Proofs are remembered that long against replay.
	ProofWindow time.Duration
	// KeysTTL is how long a PDS's and an issuer's metadata and JWKS are
	// cached (default 10 min; failed fetches for at most 30 s).
	KeysTTL time.Duration
	// MaxIssuers bounds the PDS and issuer caches (default 1,000 each).
	MaxIssuers int
	// AllowHTTP accepts http:// PDS, issuer and JWKS URLs. Only for a
	// loopback test PDS (tools/pds); production needs https.
	AllowHTTP bool
}

// DPoPVerifier checks requests carrying `Authorization: DPoP <access
// token>` and a `DPoP: <proof>` header: the access token against the keys
// of the authorization server that the subject's DID document leads to,
// and the proof against the request. It is safe for concurrent use.
type DPoPVerifier struct {
	dir        identity.Directory
	now        func() time.Time
	window     time.Duration
	publicHost string // lowercased host[:port], default port dropped
	scheme     string
	basePath   string // PublicURL's path without a trailing slash
	fetcher    *metadataFetcher
	replay     *replayCache
	keysTTL    time.Duration
	// verified remembers access tokens whose signature checked out, so a
	// client sending one token with a new proof per request costs one
	// signature check (its proof's), not two. Every other check still runs
	// on every request.
	verified *tokenCache
}

// NewDPoPVerifier returns a verifier for cfg. It fails when Directory is
// missing or PublicURL is not an absolute http(s) URL.
func NewDPoPVerifier(cfg DPoPConfig) (*DPoPVerifier, error) {
	if cfg.Directory == nil {
		return nil, errors.New("dpop: a Directory is required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("dpop: PublicURL must be an absolute http(s) URL without query")
	}
	v := &DPoPVerifier{
		dir:        cfg.Directory,
		now:        cfg.Now,
		window:     cfg.ProofWindow,
		scheme:     u.Scheme,
		publicHost: normalHost(u),
		basePath:   strings.TrimSuffix(u.Path, "/"),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.window <= 0 {
		v.window = defaultProofWindow
	}
	ttl := cfg.KeysTTL
	if ttl <= 0 {
		ttl = defaultKeysTTL
	}
	maxIssuers := cfg.MaxIssuers
	if maxIssuers <= 0 {
		maxIssuers = defaultMaxIssuers
	}
	v.fetcher = newMetadataFetcher(metadataClient(cfg.HTTPClient), cfg.AllowHTTP, v.now, ttl, maxIssuers)
	v.replay = newReplayCache(maxProofs, v.window)
	v.keysTTL = ttl
	v.verified = newTokenCache(maxCached, v.now)
	return v, nil
}

// metadataClient returns a copy of hc (or the default client) that follows
// no redirect and has a timeout.
func metadataClient(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Transport = ssrf.PublicOnlyTransport()
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// accessClaims are the access-token claims alf reads.
type accessClaims struct {
	Iss string           `json:"iss"`
	Sub string           `json:"sub"`
	Aud jwt.ClaimStrings `json:"aud"`
	Exp *jwt.NumericDate `json:"exp"`
	Iat *jwt.NumericDate `json:"iat"`
	Nbf *jwt.NumericDate `json:"nbf"`
	Cnf *struct {
		Jkt string `json:"jkt"`
	} `json:"cnf"`
}

// proofClaims are the DPoP proof claims alf reads (RFC 9449 §4.2).
type proofClaims struct {
	Jti string           `json:"jti"`
	Htm string           `json:"htm"`
	Htu string           `json:"htu"`
	Iat *jwt.NumericDate `json:"iat"`
	Ath *string          `json:"ath"`
}

// Verify checks r's `Authorization: DPoP` access token and `DPoP` proof
// and returns the token's subject DID. Errors wrap [ErrUnauthenticated],
// say which check failed, and never contain any of the token or proof.
func (v *DPoPVerifier) Verify(ctx context.Context, r *http.Request) (syntax.DID, error) {
	// 1. Header shapes.
	token, proof, err := dpopHeaders(r.Header)
	if err != nil {
		return "", err
	}

	// 2. The access token, unverified: algorithm, type and subject.
	at, err := parseJWS(token)
	if err != nil {
		return "", refuse("access token is not a well-formed JWT")
	}
	if _, ok := curveOf[at.header.Alg]; !ok {
		return "", refuse("access token algorithm (alg) is not accepted: want ES256 or ES256K, " +
			"as a token signed with a shared secret (HS256) cannot be verified by alf")
	}
	if !isType(at.header.Typ, "at+jwt") {
		return "", refuse("access token type (typ) is not at+jwt")
	}
	var c accessClaims
	if err := json.Unmarshal(at.payload, &c); err != nil {
		return "", refuse("access token claims are malformed")
	}
	did, err := syntax.ParseDID(c.Sub)
	if err != nil {
		return "", refuse("access token subject (sub) is not a DID")
	}

	// 3. The expected issuer, from the subject's DID document: DID → PDS →
	// its protected-resource metadata → authorization server → JWKS.
	ident, err := v.dir.LookupDID(ctx, did)
	if err != nil {
		if errors.Is(err, identity.ErrDIDNotFound) {
			return "", refuse("access token subject (sub) is an unknown DID")
		}
		return "", refuse("access token subject's DID document could not be resolved")
	}
	if ident.DID != did {
		return "", refuse("access token subject (sub) does not match its DID document")
	}
	pds, err := v.fetcher.origin(ident.PDSEndpoint())
	if err != nil {
		return "", refuse("subject's DID document names no usable PDS endpoint")
	}
	rs, err := v.fetcher.resource(ctx, pds)
	if err != nil {
		return "", refuse("subject's PDS OAuth metadata is unavailable (protected resource)")
	}
	ik, err := v.fetcher.issuerKeys(ctx, rs.issuer)
	if err != nil {
		return "", refuse("subject's PDS authorization server metadata or keys are unavailable (issuer)")
	}

	// 4. The access token's claims and signature.
	now := v.now()
	if c.Iss != ik.issuer {
		return "", refuse("access token issuer (iss) is not the authorization server of the subject's PDS")
	}
	if c.Exp == nil {
		return "", refuse("access token has no expiry (exp)")
	}
	if now.After(c.Exp.Add(leeway)) {
		return "", refuse("access token expired (exp)")
	}
	if (c.Iat != nil && c.Iat.After(now.Add(leeway))) || (c.Nbf != nil && c.Nbf.After(now.Add(leeway))) {
		return "", refuse("access token is not valid yet (iat/nbf)")
	}
	auds := pdsAudiences(pds)
	if !slices.ContainsFunc(c.Aud, func(a string) bool { return slices.Contains(auds, a) }) {
		return "", refuse("access token audience (aud) is not the subject's PDS")
	}
	if c.Cnf == nil || c.Cnf.Jkt == "" {
		return "", refuse("access token is not DPoP-bound (no cnf.jkt)")
	}
	sum := sha256.Sum256([]byte(token)) // the signature cache's key and the proof's ath
	if err := v.checkSignature(ctx, sum, at, ik, c.Exp.Time, now); err != nil {
		return "", err
	}

	// 5. The DPoP proof.
	if err := v.checkProof(r, sum, proof, c.Cnf.Jkt, now); err != nil {
		return "", err
	}
	return did, nil
}

// checkSignature verifies the access token's signature against the keys
// the authorization server publishes, unless this exact token was verified
// in the last KeysTTL (at most 5 minutes, never past its exp): as long as
// a rotated-out key stays in the JWKS cache anyway.
func (v *DPoPVerifier) checkSignature(ctx context.Context, sum [32]byte, at *jws, ik *issuerKeys, exp, now time.Time) error {
	if _, ok := v.verified.get(sum); ok {
		return nil
	}
	keys := v.fetcher.key(ctx, ik, at.header.Kid, at.header.Alg)
	if len(keys) == 0 {
		return refuse("access token key (kid) is not published by the subject's authorization server")
	}
	if !slices.ContainsFunc(keys, func(k atcrypto.PublicKey) bool { return at.verify(k) == nil }) {
		return refuse("access token signature is invalid")
	}
	if limit := now.Add(v.keysTTL); limit.Before(exp) {
		exp = limit
	}
	v.verified.put(sum, cacheEntry{exp: exp})
	return nil
}

// checkProof verifies the DPoP proof for r, bound to the access token whose
// SHA-256 is tokenSum and to the key thumbprint jkt, and records it against
// replay.
func (v *DPoPVerifier) checkProof(r *http.Request, tokenSum [32]byte, proof, jkt string, now time.Time) error {
	p, err := parseJWS(proof)
	if err != nil {
		return refuse("DPoP proof is not a well-formed JWT")
	}
	if !isType(p.header.Typ, "dpop+jwt") {
		return refuse("DPoP proof type (typ) is not dpop+jwt")
	}
	crv, ok := curveOf[p.header.Alg]
	if !ok {
		return refuse("DPoP proof algorithm (alg) is not accepted: want ES256 or ES256K")
	}
	if len(p.header.JWK) == 0 {
		return refuse("DPoP proof has no public key (jwk)")
	}
	key, pub, err := parsePublicJWK(p.header.JWK)
	if errors.Is(err, errPrivateJWK) {
		return refuse("DPoP proof key (jwk) contains a private key")
	}
	if err != nil || key.Crv != crv {
		return refuse("DPoP proof key (jwk) is not a public EC key for its algorithm")
	}
	if p.verify(pub) != nil {
		return refuse("DPoP proof signature is invalid")
	}
	var c proofClaims
	if err := json.Unmarshal(p.payload, &c); err != nil {
		return refuse("DPoP proof claims are malformed")
	}
	if c.Htm != r.Method {
		return refuse("DPoP proof method (htm) does not match the request")
	}
	if !v.htuMatches(c.Htu, r) {
		return refuse("DPoP proof URL (htu) does not match the request")
	}
	if c.Iat == nil {
		return refuse("DPoP proof has no issue time (iat)")
	}
	limit := v.window + leeway
	if now.Sub(c.Iat.Time) > limit {
		return refuse("DPoP proof is too old (iat)")
	}
	if c.Iat.Sub(now) > limit {
		return refuse("DPoP proof is issued in the future (iat)")
	}
	if c.Jti == "" || len(c.Jti) > maxJTILen {
		return refuse("DPoP proof has no usable id (jti)")
	}
	if c.Ath == nil {
		return refuse("DPoP proof has no access token hash (ath)")
	}
	if *c.Ath != base64.RawURLEncoding.EncodeToString(tokenSum[:]) {
		return refuse("DPoP proof access token hash (ath) does not match the token")
	}
	thumb := key.thumbprint()
	if thumb != jkt {
		return refuse("DPoP proof key is not the one the access token is bound to (cnf.jkt)")
	}
	switch v.replay.first(thumb, c.Jti, now, c.Iat.Add(limit)) {
	case proofReplayed:
		return refuse("DPoP proof was already used (jti replay)")
	case proofsFull:
		return refuse("too many recent DPoP proofs; retry later")
	}
	return nil
}

// dpopHeaders returns the access token of `Authorization: DPoP <token>`
// and the single DPoP proof header.
func dpopHeaders(h http.Header) (token, proof string, err error) {
	const shape = `Authorization header must be "DPoP <access token>"`
	authz := h.Values("Authorization")
	switch {
	case len(authz) == 0 || authz[0] == "":
		return "", "", refuse("missing Authorization header")
	case len(authz) > 1:
		return "", "", refuse("more than one Authorization header")
	case len(authz[0]) > maxHeaderLen:
		return "", "", refuse("Authorization header too long")
	}
	scheme, token, ok := strings.Cut(authz[0], " ")
	if !ok || !strings.EqualFold(scheme, "DPoP") || !isToken68(token) {
		return "", "", refuse(shape)
	}
	proofs := h.Values("DPoP")
	switch {
	case len(proofs) == 0 || proofs[0] == "":
		return "", "", refuse("missing DPoP proof header")
	case len(proofs) > 1:
		return "", "", refuse("more than one DPoP header")
	case len(proofs[0]) > maxHeaderLen:
		return "", "", refuse("DPoP header too long")
	case !isToken68(proofs[0]):
		return "", "", refuse("DPoP header must be one proof JWT")
	}
	return token, proofs[0], nil
}

// isToken68 reports whether s is non-empty and made of JWS characters.
func isToken68(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isType reports whether a JOSE typ names the media type want
// ("at+jwt" also as "application/at+jwt"), ignoring case.
func isType(typ, want string) bool {
	return strings.EqualFold(typ, want) || strings.EqualFold(typ, "application/"+want)
}

// htuMatches reports whether a proof's htu is PublicURL + r's path. The
// query and fragment are ignored; scheme and host compare without regard
// to case or a default port.
func (v *DPoPVerifier) htuMatches(htu string, r *http.Request) bool {
	u, err := url.Parse(htu)
	if err != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	if !strings.EqualFold(u.Scheme, v.scheme) || normalHost(u) != v.publicHost {
		return false
	}
	got, want := u.Path, v.basePath+r.URL.Path
	if got == "" {
		got = "/"
	}
	if want == "" {
		want = "/"
	}
	return got == want
}

// normalHost is u's lowercased host, with the scheme's default port
// dropped.
func normalHost(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" || (port == "443" && strings.EqualFold(u.Scheme, "https")) ||
		(port == "80" && strings.EqualFold(u.Scheme, "http")) {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}

// pdsAudiences are the aud values a PDS at origin puts in its access
// tokens: its service DID, which by default is did:web:<hostname> with no
// port (PDS_SERVICE_DID); with a port, also the did:web that encodes it.
func pdsAudiences(origin string) []string {
	u, err := url.Parse(origin)
	if err != nil {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	out := []string{"did:web:" + host}
	if p := u.Port(); p != "" {
		out = append(out, fmt.Sprintf("did:web:%s%%3A%s", host, p))
	}
	return out
}

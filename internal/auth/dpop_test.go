package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/auth"
)

const (
	alfURL  = "https://alf.example.com"
	alfPath = "/xrpc/town.roundabout.scheduledPosts.listPosts"
)

var b64 = base64.RawURLEncoding

// jwtKey is a signing key for tests, P-256 (ES256) or secp256k1 (ES256K).
type jwtKey struct {
	priv atcrypto.PrivateKey
	alg  string
	jwk  map[string]any // public JWK
}

func newKey(t testing.TB, alg string) *jwtKey {
	t.Helper()
	var (
		priv atcrypto.PrivateKey
		crv  string
		err  error
	)
	switch alg {
	case "ES256":
		priv, err = atcrypto.GeneratePrivateKeyP256()
		crv = "P-256"
	case "ES256K":
		priv, err = atcrypto.GeneratePrivateKeyK256()
		crv = "secp256k1"
	}
	if err != nil || priv == nil {
		t.Fatalf("key %s: %v", alg, err)
	}
	pub, _ := priv.PublicKey()
	var raw []byte
	switch p := pub.(type) {
	case *atcrypto.PublicKeyP256:
		raw = p.UncompressedBytes()
	case *atcrypto.PublicKeyK256:
		raw = p.UncompressedBytes()
	}
	return &jwtKey{priv: priv, alg: alg, jwk: map[string]any{
		"kty": "EC", "crv": crv, "x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:65]),
	}}
}

// thumbprint is the RFC 7638 thumbprint of k's JWK, computed independently
// of the package.
func (k *jwtKey) thumbprint() string {
	s := fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, k.jwk["crv"], k.jwk["x"], k.jwk["y"])
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

func (k *jwtKey) publicJWK(kid string) map[string]any {
	out := map[string]any{"use": "sig", "alg": k.alg, "kid": kid}
	for n, v := range k.jwk {
		out[n] = v
	}
	return out
}

func encodeJWT(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(h) + "." + b64.EncodeToString(c)
}

// sign returns a JWS of header and claims signed by k; header's alg
// defaults to k's.
func (k *jwtKey) sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	if _, ok := header["alg"]; !ok {
		header["alg"] = k.alg
	}
	in := encodeJWT(t, header, claims)
	sig, err := k.priv.HashAndSign([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64.EncodeToString(sig)
}

func hs256(t testing.TB, secret string, header, claims map[string]any) string {
	header["alg"] = "HS256"
	in := encodeJWT(t, header, claims)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakePDS is a PDS that is its own authorization server: protected-resource
// metadata, authorization-server metadata and a JWKS, on one TLS server
// that counts the requests it gets per path.
type fakePDS struct {
	srv *httptest.Server
	key *jwtKey
	kid string

	mu     sync.Mutex
	keys   []map[string]any
	issuer string // the AS metadata's issuer; default the server's URL
	fail   bool   // answer every request with 500
	hits   map[string]int
}

func newFakePDS(t testing.TB, alg string) *fakePDS {
	t.Helper()
	p := &fakePDS{key: newKey(t, alg), kid: "pds-key-1", hits: map[string]int{}}
	p.keys = []map[string]any{p.key.publicJWK(p.kid)}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePDS) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.hits[r.URL.Path]++
	fail, issuer, keys := p.fail, p.issuer, p.keys
	p.mu.Unlock()
	if issuer == "" {
		issuer = p.srv.URL
	}
	if fail {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	var body any
	switch r.URL.Path {
	case "/.well-known/oauth-protected-resource":
		body = map[string]any{"resource": p.srv.URL, "authorization_servers": []string{p.srv.URL}}
	case "/.well-known/oauth-authorization-server":
		body = map[string]any{"issuer": issuer, "jwks_uri": p.srv.URL + "/oauth/jwks"}
	case "/oauth/jwks":
		body = map[string]any{"keys": keys}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (p *fakePDS) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

func (p *fakePDS) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.hits {
		n += c
	}
	return n
}

// audience is what the real PDS puts in aud: did:web of its hostname.
func (p *fakePDS) audience() string { return "did:web:127.0.0.1" }

// world is one verifier, one PDS, one user on it and the user's client.
type world struct {
	t      testing.TB
	clock  *clock
	pds    *fakePDS
	dir    *identity.MockDirectory
	v      *auth.DPoPVerifier
	user   syntax.DID
	client *jwtKey // the client's DPoP key
	seq    atomic.Int64
}

func newWorld(t testing.TB, cfg auth.DPoPConfig) *world {
	t.Helper()
	w := &world{
		t:      t,
		clock:  &clock{t: time.Unix(1_800_000_000, 0)},
		pds:    newFakePDS(t, "ES256"),
		dir:    identity.NewMockDirectory(),
		user:   "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
		client: newKey(t, "ES256"),
	}
	w.addUser(w.user, w.pds)
	cfg.Directory = w.dir
	cfg.PublicURL = alfURL
	cfg.Now = w.clock.Now
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = w.pds.srv.Client() // trusts every httptest TLS server
	}
	v, err := auth.NewDPoPVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.v = v
	return w
}

func (w *world) addUser(did syntax.DID, pds *fakePDS) {
	w.dir.Insert(identity.Identity{
		DID:      did,
		Handle:   syntax.HandleInvalid,
		Services: map[string]identity.ServiceEndpoint{"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: pds.srv.URL}},
	})
}

// tokenClaims are the claims of a valid access token, as the real PDS
// issues them (see dpop.go).
func (w *world) tokenClaims() map[string]any {
	now := w.clock.Now()
	return map[string]any{
		"iss": w.pds.srv.URL, "sub": w.user.String(), "aud": w.pds.audience(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "tok-0123456789abcdef", "client_id": "https://client.example/oauth-client-metadata.json",
		"cnf": map[string]any{"jkt": w.client.thumbprint()},
	}
}

func (w *world) tokenHeader() map[string]any {
	return map[string]any{"typ": "at+jwt", "kid": w.pds.kid}
}

// token is a valid access token signed by the PDS.
func (w *world) token() string {
	return w.pds.key.sign(w.t, w.tokenHeader(), w.tokenClaims())
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.EncodeToString(sum[:])
}

func (w *world) proofClaims(token string) map[string]any {
	return map[string]any{
		"jti": fmt.Sprintf("proof-%d-%s", w.seq.Add(1), rand.Text()),
		"htm": http.MethodPost, "htu": alfURL + alfPath,
		"iat": w.clock.Now().Unix(), "ath": ath(token),
	}
}

func (w *world) proofHeader(k *jwtKey) map[string]any {
	return map[string]any{"typ": "dpop+jwt", "jwk": k.jwk}
}

// proof is a valid proof for token, signed by the client's key.
func (w *world) proof(token string) string {
	return w.client.sign(w.t, w.proofHeader(w.client), w.proofClaims(token))
}

func request(token, proof string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, alfURL+alfPath+"?limit=5", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

func (w *world) valid() *http.Request {
	token := w.token()
	return request(token, w.proof(token))
}

// with returns a copy of m with the given entries set (nil deletes).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// attacker is a server the attacker controls, publishing the attacker's
// key as an authorization server would.
func attacker(t testing.TB) *fakePDS { return newFakePDS(t, "ES256") }

// assertRefused checks err is an ErrUnauthenticated naming reason and
// containing none of the request's credentials.
func assertRefused(t testing.TB, err error, reason string, r *http.Request) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want refusal %q", reason)
	}
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("error %q does not name %q", err, reason)
	}
	t.Logf("refused: %v", err)
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "DPoP ")
	for _, cred := range []string{token, r.Header.Get("DPoP")} {
		for _, part := range strings.Split(cred, ".") {
			if len(part) >= 12 && strings.Contains(err.Error(), part[:12]) {
				t.Fatalf("error %q contains part of a credential", err)
			}
		}
	}
	if strings.Contains(err.Error(), "did:plc:") {
		t.Fatalf("error %q contains a DID from the token", err)
	}
}

func TestDPoPVerifyValid(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"ES256", "ES256K"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, auth.DPoPConfig{})
			// The PDS signs with alg; the client's DPoP key uses it too.
			w.pds.mu.Lock()
			w.pds.key = newKey(t, alg)
			w.pds.keys = []map[string]any{w.pds.key.publicJWK(w.pds.kid)}
			w.pds.mu.Unlock()
			w.client = newKey(t, alg)
			did, err := w.v.Verify(context.Background(), w.valid())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if did != w.user {
				t.Fatalf("Verify = %s, want %s", did, w.user)
			}
		})
	}
}

func TestDPoPVerifyRefusals(t *testing.T) {
	t.Parallel()
	type testCase struct {
		name   string
		reason string
		build  func(t *testing.T, w *world) *http.Request
		// twice: the request must pass once, then be refused.
		twice bool
		// untouched: servers that must get no request at all.
		untouched func(w *world) []*fakePDS
	}
	tokenWith := func(w *world, kv ...any) string {
		return w.pds.key.sign(w.t, w.tokenHeader(), with(w.tokenClaims(), kv...))
	}
	proofWith := func(w *world, token string, kv ...any) *http.Request {
		return request(token, w.client.sign(w.t, w.proofHeader(w.client), with(w.proofClaims(token), kv...)))
	}
	var evil sync.Map // world → its attacker server, for untouched
	evilOf := func(t *testing.T, w *world) *fakePDS {
		a := attacker(t)
		evil.Store(w, a)
		return a
	}
	untouchedEvil := func(w *world) []*fakePDS {
		a, _ := evil.Load(w)
		return []*fakePDS{a.(*fakePDS)}
	}

	cases := []testCase{
		// 1. Header shapes.
		{name: "no Authorization", reason: "missing Authorization", build: func(t *testing.T, w *world) *http.Request {
			r := w.valid()
			r.Header.Del("Authorization")
			return r
		}},
		{name: "Bearer scheme", reason: `"DPoP <access token>"`, build: func(t *testing.T, w *world) *http.Request {
			r := w.valid()
			r.Header.Set("Authorization", "Bearer "+w.token())
			return r
		}},
		{name: "no DPoP header", reason: "missing DPoP proof", build: func(t *testing.T, w *world) *http.Request {
			return request(w.token(), "")
		}},
		{name: "two DPoP headers", reason: "more than one DPoP", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			r := request(token, w.proof(token))
			r.Header.Add("DPoP", w.proof(token))
			return r
		}},
		{name: "two proofs in one DPoP header", reason: "one proof JWT", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			r := request(token, w.proof(token)+","+w.proof(token))
			return r
		}},
		{name: "oversized Authorization", reason: "too long", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			return request(token+strings.Repeat("A", 9000), w.proof(token))
		}},

		// 2. The token's algorithm and subject, before any fetch.
		{name: "unsigned HS256 token", reason: "algorithm (alg)", untouched: func(w *world) []*fakePDS { return []*fakePDS{w.pds} },
			build: func(t *testing.T, w *world) *http.Request {
				token := hs256(t, "jwt-secret", w.tokenHeader(), w.tokenClaims())
				return request(token, w.proof(token))
			}},
		{name: "alg none", reason: "algorithm (alg)", untouched: func(w *world) []*fakePDS { return []*fakePDS{w.pds} },
			build: func(t *testing.T, w *world) *http.Request {
				token := encodeJWT(t, with(w.tokenHeader(), "alg", "none"), w.tokenClaims()) + "."
				return request(token, w.proof(token))
			}},
		{name: "RS256 token", reason: "algorithm (alg)", build: func(t *testing.T, w *world) *http.Request {
			token := encodeJWT(t, with(w.tokenHeader(), "alg", "RS256"), w.tokenClaims()) + "." + b64.EncodeToString(make([]byte, 256))
			return request(token, w.proof(token))
		}},
		{name: "token typ JWT", reason: "type (typ)", build: func(t *testing.T, w *world) *http.Request {
			token := w.pds.key.sign(t, with(w.tokenHeader(), "typ", "JWT"), w.tokenClaims())
			return request(token, w.proof(token))
		}},
		{name: "sub not a DID", reason: "subject (sub) is not a DID", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "sub", "alice.test")
			return request(token, w.proof(token))
		}},
		{name: "sub an unknown DID", reason: "subject (sub) is an unknown DID", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "sub", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
			return request(token, w.proof(token))
		}},

		// 3–4. Issuer and keys from the DID document, never from the token.
		{name: "attacker iss with attacker-hosted JWKS", reason: "issuer (iss)", untouched: untouchedEvil,
			build: func(t *testing.T, w *world) *http.Request {
				a := evilOf(t, w)
				token := a.key.sign(t, with(w.tokenHeader(), "kid", a.kid), with(w.tokenClaims(), "iss", a.srv.URL))
				return request(token, w.proof(token))
			}},
		{name: "attacker key named by jku", reason: "key (kid)", untouched: untouchedEvil,
			build: func(t *testing.T, w *world) *http.Request {
				a := evilOf(t, w)
				h := with(w.tokenHeader(), "kid", "attacker-key", "jku", a.srv.URL+"/oauth/jwks", "x5u", a.srv.URL+"/cert.pem")
				token := a.key.sign(t, h, w.tokenClaims())
				return request(token, w.proof(token))
			}},
		{name: "attacker key embedded as jwk with the PDS's kid", reason: "access token signature is invalid",
			build: func(t *testing.T, w *world) *http.Request {
				a := attacker(t)
				token := a.key.sign(t, with(w.tokenHeader(), "jwk", a.key.jwk), w.tokenClaims())
				return request(token, w.proof(token))
			}},
		{name: "self-made token with self-signed proof", reason: "access token signature is invalid",
			build: func(t *testing.T, w *world) *http.Request {
				// The attacker signs both with its own key; every claim is
				// right, including cnf.jkt of its key.
				a := newKey(t, "ES256")
				token := a.sign(t, w.tokenHeader(), with(w.tokenClaims(), "cnf", map[string]any{"jkt": a.thumbprint()}))
				return request(token, a.sign(t, w.proofHeader(a), w.proofClaims(token)))
			}},
		{name: "token signed by another PDS for a user not on it", reason: "issuer (iss)",
			build: func(t *testing.T, w *world) *http.Request {
				// A genuine token of PDS B, whose sub's DID document points at
				// PDS A (w.pds).
				b := newFakePDS(t, "ES256")
				token := b.key.sign(t, with(w.tokenHeader(), "kid", b.kid), with(w.tokenClaims(), "iss", b.srv.URL))
				return request(token, w.proof(token))
			}},
		{name: "PDS metadata names another issuer", reason: "authorization server metadata",
			build: func(t *testing.T, w *world) *http.Request {
				w.pds.mu.Lock()
				w.pds.issuer = "https://elsewhere.example"
				w.pds.mu.Unlock()
				return w.valid()
			}},
		{name: "unknown kid", reason: "key (kid)", build: func(t *testing.T, w *world) *http.Request {
			token := w.pds.key.sign(t, with(w.tokenHeader(), "kid", "no-such-key"), w.tokenClaims())
			return request(token, w.proof(token))
		}},
		{name: "tampered claims", reason: "access token signature is invalid", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			parts := strings.Split(token, ".")
			parts[1] = strings.Split(encodeJWT(t, w.tokenHeader(), with(w.tokenClaims(), "jti", "tok-other")), ".")[1]
			token = strings.Join(parts, ".")
			return request(token, w.proof(token))
		}},
		{name: "wrong aud", reason: "audience (aud)", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "aud", "did:web:alf.example.com")
			return request(token, w.proof(token))
		}},
		{name: "aud the PDS URL", reason: "audience (aud)", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "aud", w.pds.srv.URL)
			return request(token, w.proof(token))
		}},
		{name: "expired token", reason: "expired (exp)", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "exp", w.clock.Now().Add(-time.Minute).Unix())
			return request(token, w.proof(token))
		}},
		{name: "token without exp", reason: "no expiry (exp)", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "exp", nil)
			return request(token, w.proof(token))
		}},
		{name: "token issued in the future", reason: "not valid yet", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "iat", w.clock.Now().Add(time.Hour).Unix())
			return request(token, w.proof(token))
		}},
		{name: "token not DPoP-bound", reason: "no cnf.jkt", build: func(t *testing.T, w *world) *http.Request {
			token := tokenWith(w, "cnf", nil)
			return request(token, w.proof(token))
		}},

		// 5. The proof.
		{name: "replayed proof", reason: "already used (jti replay)", twice: true, build: func(t *testing.T, w *world) *http.Request {
			return w.valid()
		}},
		{name: "wrong htu host", reason: "URL (htu)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "htu", "https://evil.example.com"+alfPath)
		}},
		{name: "wrong htu path", reason: "URL (htu)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "htu", alfURL+"/xrpc/town.roundabout.scheduledPosts.deletePost")
		}},
		{name: "wrong htu scheme", reason: "URL (htu)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "htu", "http://alf.example.com"+alfPath)
		}},
		{name: "wrong htm", reason: "method (htm)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "htm", http.MethodGet)
		}},
		{name: "proof iat too old", reason: "too old (iat)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "iat", w.clock.Now().Add(-6*time.Minute).Unix())
		}},
		{name: "proof iat too far in the future", reason: "future (iat)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "iat", w.clock.Now().Add(6*time.Minute).Unix())
		}},
		{name: "proof without iat", reason: "issue time (iat)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "iat", nil)
		}},
		{name: "proof without jti", reason: "(jti)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "jti", nil)
		}},
		{name: "missing ath", reason: "(ath)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "ath", nil)
		}},
		{name: "incorrect ath", reason: "(ath)", build: func(t *testing.T, w *world) *http.Request {
			return proofWith(w, w.token(), "ath", ath("another token"))
		}},
		{name: "cnf.jkt not the proof key", reason: "(cnf.jkt)", build: func(t *testing.T, w *world) *http.Request {
			// A stolen token replayed with the thief's own proof key.
			thief := newKey(t, "ES256")
			token := w.token()
			return request(token, thief.sign(t, w.proofHeader(thief), w.proofClaims(token)))
		}},
		{name: "proof signed by a key other than its jwk", reason: "proof signature is invalid", build: func(t *testing.T, w *world) *http.Request {
			other := newKey(t, "ES256")
			token := w.token()
			return request(token, other.sign(t, w.proofHeader(w.client), w.proofClaims(token)))
		}},
		{name: "proof typ JWT", reason: "type (typ)", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			return request(token, w.client.sign(t, with(w.proofHeader(w.client), "typ", "JWT"), w.proofClaims(token)))
		}},
		{name: "proof HS256", reason: "proof algorithm (alg)", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			return request(token, hs256(t, "k", w.proofHeader(w.client), w.proofClaims(token)))
		}},
		{name: "proof without jwk", reason: "no public key (jwk)", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			return request(token, w.client.sign(t, with(w.proofHeader(w.client), "jwk", nil), w.proofClaims(token)))
		}},
		{name: "proof jwk with private part", reason: "private key", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			jwk := with(w.client.jwk, "d", b64.EncodeToString(make([]byte, 32)))
			return request(token, w.client.sign(t, with(w.proofHeader(w.client), "jwk", jwk), w.proofClaims(token)))
		}},
		{name: "proof jwk on another curve than alg", reason: "public EC key for its algorithm", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			k := newKey(t, "ES256K")
			return request(token, w.client.sign(t, w.proofHeader(k), w.proofClaims(token)))
		}},
		{name: "proof jwk coordinate of 33 bytes", reason: "public EC key for its algorithm", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			x, _ := b64.DecodeString(w.client.jwk["x"].(string))
			jwk := with(w.client.jwk, "x", b64.EncodeToString(append([]byte{0}, x...)))
			return request(token, w.client.sign(t, with(w.proofHeader(w.client), "jwk", jwk), w.proofClaims(token)))
		}},
		{name: "token used as its own proof", reason: "proof type (typ)", build: func(t *testing.T, w *world) *http.Request {
			token := w.token()
			return request(token, token)
		}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, auth.DPoPConfig{})
			r := tc.build(t, w)
			if tc.twice {
				if _, err := w.v.Verify(context.Background(), r); err != nil {
					t.Fatalf("first use refused: %v", err)
				}
			}
			_, err := w.v.Verify(context.Background(), r)
			assertRefused(t, err, tc.reason, r)
			if tc.untouched != nil {
				for _, s := range tc.untouched(w) {
					if n := s.total(); n != 0 {
						t.Fatalf("a server the token named got %d requests", n)
					}
				}
			}
		})
	}
}

// TestDPoPHTU checks the htu comparison: query and fragment ignored, scheme
// and host case-insensitive, default port optional, a base path kept.
func TestDPoPHTU(t *testing.T) {
	t.Parallel()
	cases := []struct {
		public, htu string
		ok          bool
	}{
		{alfURL, alfURL + alfPath, true},
		{alfURL, alfURL + alfPath + "?limit=5#frag", true},
		{alfURL, "HTTPS://ALF.Example.COM" + alfPath, true},
		{alfURL, "https://alf.example.com:443" + alfPath, true},
		{alfURL + "/", alfURL + alfPath, true},
		{alfURL, "https://alf.example.com:8443" + alfPath, false},
		{alfURL, "https://user@alf.example.com" + alfPath, false},
		{alfURL, alfURL + strings.ToUpper(alfPath), false},
		{alfURL, alfURL + alfPath + "/", false},
		{alfURL, "https://alf.example.com.evil.example" + alfPath, false},
		{alfURL + "/api", alfURL + "/api" + alfPath, true},
		{alfURL + "/api", alfURL + alfPath, false},
		{"http://localhost:1986", "http://localhost:1986" + alfPath, true},
		{"http://localhost:1986", "http://localhost" + alfPath, false},
	}
	for _, tc := range cases {
		t.Run(tc.public+" "+tc.htu, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, auth.DPoPConfig{})
			v, err := auth.NewDPoPVerifier(auth.DPoPConfig{
				Directory: w.dir, PublicURL: tc.public, Now: w.clock.Now, HTTPClient: w.pds.srv.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			token := w.token()
			r := request(token, w.client.sign(t, w.proofHeader(w.client), with(w.proofClaims(token), "htu", tc.htu)))
			_, err = v.Verify(context.Background(), r)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				assertRefused(t, err, "URL (htu)", r)
			}
		})
	}
}

// TestDPoPIssuerCache shows the metadata and JWKS are fetched once for
// many verifications, also when they run concurrently from a cold cache.
func TestDPoPIssuerCache(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{})
	const n = 50
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = w.valid()
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, r := range reqs {
		wg.Go(func() {
			if _, err := w.v.Verify(context.Background(), r); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Verify: %v", err)
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server", "/oauth/jwks"} {
		if got := w.pds.count(path); got != 1 {
			t.Errorf("%s fetched %d times for %d verifications, want 1", path, got, n)
		}
	}

	// After KeysTTL the documents are fetched again, once.
	w.clock.Add(11 * time.Minute)
	for range 3 {
		if _, err := w.v.Verify(context.Background(), w.valid()); err != nil {
			t.Fatalf("Verify after TTL: %v", err)
		}
	}
	if got := w.pds.count("/oauth/jwks"); got != 2 {
		t.Errorf("JWKS fetched %d times after the TTL, want 2", got)
	}
}

// TestDPoPIssuerCacheBounded verifies users on more PDSes than MaxIssuers
// and checks the caches stay within it.
func TestDPoPIssuerCacheBounded(t *testing.T) {
	t.Parallel()
	const max = 3
	w := newWorld(t, auth.DPoPConfig{MaxIssuers: max})
	for i := range 10 {
		p := newFakePDS(t, "ES256")
		did := syntax.DID(fmt.Sprintf("did:plc:user%020d", i))
		w.addUser(did, p)
		claims := with(w.tokenClaims(), "iss", p.srv.URL, "sub", did.String())
		token := p.key.sign(t, with(w.tokenHeader(), "kid", p.kid), claims)
		got, err := w.v.Verify(context.Background(), request(token, w.proof(token)))
		if err != nil || got != did {
			t.Fatalf("PDS %d: Verify = %s, %v", i, got, err)
		}
	}
	pdsEntries, pdsLoads, issEntries, issLoads := auth.DPoPCacheStats(w.v)
	if pdsEntries > max || issEntries > max {
		t.Fatalf("cache holds %d PDSes and %d issuers, bound is %d", pdsEntries, issEntries, max)
	}
	if pdsLoads != 10 || issLoads != 10 {
		t.Fatalf("loads = %d PDS, %d issuer; want 10 each", pdsLoads, issLoads)
	}
}

// TestDPoPKeyRotation: a token under a new kid makes the verifier refetch
// the JWKS, but tokens with unknown kids refetch at most once per 30 s.
func TestDPoPKeyRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{})
	ctx := context.Background()
	if _, err := w.v.Verify(ctx, w.valid()); err != nil {
		t.Fatal(err)
	}
	w.clock.Add(31 * time.Second)

	// The PDS rotates to a new key.
	w.pds.mu.Lock()
	w.pds.key, w.pds.kid = newKey(t, "ES256"), "pds-key-2"
	w.pds.keys = append(w.pds.keys, w.pds.key.publicJWK(w.pds.kid))
	w.pds.mu.Unlock()
	if _, err := w.v.Verify(ctx, w.valid()); err != nil {
		t.Fatalf("token under the rotated key: %v", err)
	}
	if got := w.pds.count("/oauth/jwks"); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (initial + one refetch)", got)
	}

	// Forged kids: refused without refetching, until 30 s have passed.
	forged := func() error {
		token := w.pds.key.sign(t, with(w.tokenHeader(), "kid", rand.Text()), w.tokenClaims())
		r := request(token, w.proof(token))
		_, err := w.v.Verify(ctx, r)
		assertRefused(t, err, "key (kid)", r)
		return err
	}
	for range 20 {
		_ = forged()
	}
	if got := w.pds.count("/oauth/jwks"); got != 2 {
		t.Fatalf("JWKS fetched %d times after forged kids, want still 2", got)
	}
	w.clock.Add(31 * time.Second)
	for range 20 {
		_ = forged()
	}
	if got := w.pds.count("/oauth/jwks"); got != 3 {
		t.Fatalf("JWKS fetched %d times, want 3 (one more refetch after 30 s)", got)
	}
}

// TestDPoPShortCoordinate: indigo's P-256 JWKs drop a coordinate's leading
// zero bytes (RFC 7518 wants 32), and the PDS binds tokens to the
// thumbprint of that encoding; such a client is accepted.
func TestDPoPShortCoordinate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{})
	for short := false; !short; {
		k := newKey(t, "ES256")
		for _, c := range []string{"x", "y"} {
			b, _ := b64.DecodeString(k.jwk[c].(string))
			if b[0] == 0 {
				k.jwk[c] = b64.EncodeToString(bytes.TrimLeft(b, "\x00"))
				short = true
			}
		}
		w.client = k
	}
	if _, err := w.v.Verify(context.Background(), w.valid()); err != nil {
		t.Fatalf("a proof whose jwk has a 31-byte coordinate: %v", err)
	}
}

// TestDPoPVerifiedTokenCache: a client sends one access token with a new
// proof per request, and its signature is checked once; the cache is keyed
// by the token's exact bytes, every other check still runs, and an entry
// lasts no longer than the issuer's keys are cached.
func TestDPoPVerifiedTokenCache(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{KeysTTL: time.Minute})
	ctx := context.Background()
	token := w.token()
	if _, err := w.v.Verify(ctx, request(token, w.proof(token))); err != nil {
		t.Fatal(err)
	}

	// The PDS drops its key: the cached token is still accepted (as it
	// would be with the key still in the JWKS cache) ...
	w.pds.mu.Lock()
	w.pds.keys = nil
	w.pds.mu.Unlock()
	w.clock.Add(30 * time.Second)
	if _, err := w.v.Verify(ctx, request(token, w.proof(token))); err != nil {
		t.Fatalf("the verified token with a new proof: %v", err)
	}
	// ... but not with its signature changed, nor with a used proof.
	tampered := token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(token, "AA")]
	r := request(tampered, w.proof(tampered))
	_, err := w.v.Verify(ctx, r)
	assertRefused(t, err, "signature", r)
	used := request(token, w.proof(token))
	if _, err := w.v.Verify(ctx, used); err != nil {
		t.Fatal(err)
	}
	r = request(token, used.Header.Get("DPoP"))
	_, err = w.v.Verify(ctx, r)
	assertRefused(t, err, "already used", r)

	// After KeysTTL the token's signature is checked again, against the
	// JWKS fetched anew, which no longer has the key.
	w.clock.Add(31 * time.Second)
	r = request(token, w.proof(token))
	_, err = w.v.Verify(ctx, r)
	assertRefused(t, err, "key (kid) is not published", r)
}

// TestDPoPFailureCached: a PDS whose metadata fails is not asked again for
// every request.
func TestDPoPFailureCached(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{})
	w.pds.mu.Lock()
	w.pds.fail = true
	w.pds.mu.Unlock()
	for range 10 {
		r := w.valid()
		_, err := w.v.Verify(context.Background(), r)
		assertRefused(t, err, "OAuth metadata is unavailable", r)
	}
	if got := w.pds.total(); got != 1 {
		t.Fatalf("failing PDS got %d requests, want 1", got)
	}
	w.pds.mu.Lock()
	w.pds.fail = false
	w.pds.mu.Unlock()
	w.clock.Add(31 * time.Second)
	if _, err := w.v.Verify(context.Background(), w.valid()); err != nil {
		t.Fatalf("after the PDS recovered: %v", err)
	}
}

// TestDPoPRequiresHTTPS: http:// PDS URLs are refused unless AllowHTTP.
func TestDPoPRequiresHTTPS(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{})
	plain := httptest.NewServer(w.pds.srv.Config.Handler)
	t.Cleanup(plain.Close)
	w.dir.Insert(identity.Identity{
		DID: w.user, Handle: syntax.HandleInvalid,
		Services: map[string]identity.ServiceEndpoint{"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: plain.URL}},
	})
	r := w.valid()
	_, err := w.v.Verify(context.Background(), r)
	assertRefused(t, err, "no usable PDS endpoint", r)
}

func TestNewDPoPVerifierConfig(t *testing.T) {
	t.Parallel()
	dir := identity.NewMockDirectory()
	for _, cfg := range []auth.DPoPConfig{
		{PublicURL: alfURL},
		{Directory: dir},
		{Directory: dir, PublicURL: "alf.example.com"},
		{Directory: dir, PublicURL: "ftp://alf.example.com"},
		{Directory: dir, PublicURL: alfURL + "?x=1"},
	} {
		if _, err := auth.NewDPoPVerifier(cfg); err == nil {
			t.Errorf("NewDPoPVerifier(%+v) accepted", cfg)
		}
	}
}

func BenchmarkDPoPVerify(b *testing.B) {
	w := newWorld(b, auth.DPoPConfig{})
	ctx := context.Background()
	token := w.token()
	if _, err := w.v.Verify(ctx, request(token, w.proof(token))); err != nil { // warm the caches
		b.Fatal(err)
	}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = request(token, w.proof(token))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.v.Verify(ctx, reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "verifications/s")
	}
}

// A Verifier WithDPoP takes DPoP-bound access tokens in VerifyRequest, and
// service-auth tokens as before; the Connect interceptor passes the call's
// method and path for the proof's htm and htu.
func TestVerifierWithDPoP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, auth.DPoPConfig{})
	v := auth.NewVerifier(aud, w.dir).WithDPoP(w.v)
	did, err := v.VerifyRequest(context.Background(), w.valid(), lxm)
	if err != nil || did != w.user {
		t.Fatalf("VerifyRequest of a DPoP request = %s, %v", did, err)
	}
	replayed := w.valid()
	if _, err := v.VerifyRequest(context.Background(), replayed, lxm); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyRequest(context.Background(), replayed, lxm); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("a replayed proof: %v", err)
	}
	plain := auth.NewVerifier(aud, w.dir)
	if _, err := plain.VerifyRequest(context.Background(), w.valid(), lxm); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("a Verifier without DPoP took a DPoP request: %v", err)
	}
}

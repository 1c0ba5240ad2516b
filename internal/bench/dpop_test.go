package bench_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
)

// createURL is the htu of a CreateDraft proof: alf's default public URL
// and the procedure's path.
const createURL = "http://localhost:1986" + alfv1connect.DraftServiceCreateDraftProcedure

var b64 = base64.RawURLEncoding

// authServer is a stand-in for a PDS that is its own authorization server
// and publishes its access-token key (ES256K), so BenchmarkIngest can
// measure callers with DPoP-bound tokens without a real PDS. It serves
// what alf's DPoP verifier fetches: the protected-resource metadata, the
// authorization-server metadata and the JWKS; alf caches them, so the
// benchmark measures verification, not fetching.
type authServer struct {
	srv *httptest.Server
	key *atcrypto.PrivateKeyK256
}

func newAuthServer(b *testing.B) *authServer {
	b.Helper()
	key, err := atcrypto.GeneratePrivateKeyK256()
	if err != nil {
		b.Fatal(err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		b.Fatal(err)
	}
	jwk, err := pub.JWK()
	if err != nil {
		b.Fatal(err)
	}
	kid := "bench"
	jwk.Use, jwk.KeyID = "sig", &kid
	as := &authServer{key: key}
	mux := http.NewServeMux()
	doc := func(path string, v func() any) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v())
		})
	}
	doc("/.well-known/oauth-protected-resource", func() any {
		return map[string]any{"resource": as.srv.URL, "authorization_servers": []string{as.srv.URL}}
	})
	doc("/.well-known/oauth-authorization-server", func() any {
		return map[string]any{"issuer": as.srv.URL, "jwks_uri": as.srv.URL + "/oauth/jwks"}
	})
	doc("/oauth/jwks", func() any { return map[string]any{"keys": []any{jwk}} })
	as.srv = httptest.NewServer(mux)
	b.Cleanup(as.srv.Close)
	return as
}

// serve tunes alf to resolve ids to DID documents naming this server as
// their PDS, and to fetch its metadata on loopback.
func (as *authServer) serve(ids []*authtest.Identity) func(*node.Options) {
	dir := identity.NewMockDirectory()
	for _, id := range ids {
		ident := id.Identity()
		ident.Services = map[string]identity.ServiceEndpoint{
			"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: as.srv.URL},
		}
		dir.Insert(ident)
	}
	return func(o *node.Options) {
		o.Directory = dir
		o.DPoPHTTPClient = as.srv.Client()
	}
}

// client gives id a DPoP key and an access token bound to it, as an app
// holding its own OAuth session has, and returns the authorizer that sends
// the token with a fresh proof for htu (indigo's) on every call.
func (as *authServer) client(b *testing.B, id *authtest.Identity, htu string) func(http.Header) error {
	b.Helper()
	key, err := atcrypto.GeneratePrivateKeyP256()
	if err != nil {
		b.Fatal(err)
	}
	jkt, err := pdstest.JKT(key)
	if err != nil {
		b.Fatal(err)
	}
	token := as.token(b, string(id.DID), jkt)
	app := &oauth.ClientSession{Data: &oauth.ClientSessionData{AccessToken: token}, DPoPPrivateKey: key}
	return func(h http.Header) error {
		proof, err := app.NewHostDPoP(http.MethodPost, htu)
		if err != nil {
			return err
		}
		h.Set("Authorization", "DPoP "+token)
		h.Set("DPoP", proof)
		return nil
	}
}

// token signs an access token for sub bound to the DPoP key thumbprint
// jkt, with the claims a PDS puts in one (aud: the PDS's did:web).
func (as *authServer) token(b *testing.B, sub, jkt string) string {
	b.Helper()
	now := time.Now()
	header, _ := json.Marshal(map[string]any{"typ": "at+jwt", "alg": "ES256K", "kid": "bench"})
	claims, _ := json.Marshal(map[string]any{
		"iss": as.srv.URL, "aud": "did:web:127.0.0.1", "sub": sub, "jti": "tok-" + sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "client_id": "http://localhost",
		"cnf": map[string]any{"jkt": jkt},
	})
	in := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	sig, err := as.key.HashAndSign([]byte(in))
	if err != nil {
		b.Fatal(err)
	}
	return in + "." + b64.EncodeToString(sig)
}

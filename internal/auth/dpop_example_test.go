package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/auth"
)

func ExampleDPoPVerifier_Verify() {
	// A PDS that is its own OAuth authorization server and publishes the
	// key signing its access tokens. (Bluesky's PDS signs with a secret
	// instead, and such tokens are refused: see the package's dpop.go.)
	pdsKey, _ := atcrypto.GeneratePrivateKeyP256()
	var pds *httptest.Server
	pds = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		docs := map[string]any{
			"/.well-known/oauth-protected-resource": map[string]any{
				"resource": pds.URL, "authorization_servers": []string{pds.URL},
			},
			"/.well-known/oauth-authorization-server": map[string]any{
				"issuer": pds.URL, "jwks_uri": pds.URL + "/oauth/jwks",
			},
			"/oauth/jwks": map[string]any{"keys": []any{with(exampleJWK(pdsKey), "kid", "k1")}},
		}
		_ = json.NewEncoder(w).Encode(docs[r.URL.Path])
	}))
	defer pds.Close()

	// Alice's DID document names that PDS. In production the directory is
	// auth.NewDirectory(cfg.PLCRoot, nil) and HTTPClient is left nil.
	alice := syntax.DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	dir := identity.NewMockDirectory()
	dir.Insert(identity.Identity{DID: alice, Services: map[string]identity.ServiceEndpoint{
		"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: pds.URL},
	}})
	v, err := auth.NewDPoPVerifier(auth.DPoPConfig{
		Directory:  dir,
		HTTPClient: pds.Client(),
		PublicURL:  "https://alf.example.com",
	})
	if err != nil {
		panic(err)
	}

	// Alice's client holds a DPoP key and an access token bound to it ...
	clientKey, _ := atcrypto.GeneratePrivateKeyP256()
	now := time.Now()
	token := exampleSign(pdsKey, map[string]any{"typ": "at+jwt", "kid": "k1"}, map[string]any{
		"iss": pds.URL, "aud": "did:web:127.0.0.1", "sub": alice.String(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "tok-1",
		"cnf": map[string]any{"jkt": exampleThumbprint(clientKey)},
	})
	// ... and signs a proof for each call to alf.
	tokenHash := sha256.Sum256([]byte(token))
	proof := exampleSign(clientKey, map[string]any{"typ": "dpop+jwt", "jwk": exampleJWK(clientKey)}, map[string]any{
		"jti": "proof-1", "htm": "POST", "htu": "https://alf.example.com/xrpc/town.roundabout.scheduledPosts.listPosts",
		"iat": now.Unix(), "ath": base64.RawURLEncoding.EncodeToString(tokenHash[:]),
	})
	r := httptest.NewRequest("POST", "https://alf.example.com/xrpc/town.roundabout.scheduledPosts.listPosts", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", proof)

	did, err := v.Verify(context.Background(), r)
	fmt.Println(did, err)
	_, err = v.Verify(context.Background(), r) // the same proof again
	fmt.Println(err)
	// Output:
	// did:plc:ewvi7nxzyoun6zhxrhs64oiz <nil>
	// service auth refused: DPoP proof was already used (jti replay)
}

// exampleJWK is the public JWK of a P-256 key.
func exampleJWK(k atcrypto.PrivateKey) map[string]any {
	pub, _ := k.PublicKey()
	raw := pub.(*atcrypto.PublicKeyP256).UncompressedBytes()
	return map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(raw[33:65]),
	}
}

// exampleThumbprint is the RFC 7638 thumbprint of k's public JWK.
func exampleThumbprint(k atcrypto.PrivateKey) string {
	j := exampleJWK(k)
	sum := sha256.Sum256([]byte(fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, j["x"], j["y"])))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// exampleSign returns an ES256 JWS of header and claims.
func exampleSign(k atcrypto.PrivateKey, header, claims map[string]any) string {
	header["alg"] = "ES256"
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, _ := k.HashAndSign([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

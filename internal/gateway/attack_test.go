package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/authtest"
)

// The holes of the service alf replaces (spec §9.1, §14 items 1–3), and
// other ways in without proof: each is refused with 401 before any handler
// runs (nothing is appended to the log), on XRPC and on Connect.
func TestAttacksAreRefused(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	alice := g.alice
	a := alice.DID.String()
	const lxm = "com.atproto.repo.createRecord"
	claims := func(aud string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": a, "sub": a, "aud": aud, "lxm": lxm, "iat": time.Now().Unix(), "exp": exp.Unix()}
	}
	soon := time.Now().Add(time.Minute)

	// Unsigned HS256 (the reference accepted any sub).
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(serviceDID, soon)).SignedString([]byte("anything"))
	// alg none.
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(serviceDID, soon)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// Signed by an attacker's key, claiming alice.
	mallory := authtest.NewIdentity(t)
	mallory.DID = alice.DID
	forged := mallory.Token(t, serviceDID, lxm, time.Minute)
	// Signed by the attacker's key that the token names itself (jwk, jku).
	attackerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	selfNamed := jwt.NewWithClaims(jwt.SigningMethodES256, claims(serviceDID, soon))
	selfNamed.Header["jwk"] = map[string]any{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(attackerKey.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(attackerKey.Y.FillBytes(make([]byte, 32)))}
	selfNamed.Header["jku"] = "https://attacker.example/jwks.json"
	selfNamedToken, _ := selfNamed.SignedString(attackerKey)
	// Alice's own key, but expired, or for another service.
	expired := alice.Token(t, serviceDID, lxm, -time.Minute)
	otherAud := alice.Token(t, "did:web:other.example", lxm, time.Minute)
	// A self-made DPoP-bound token with a self-signed proof (the reference
	// never checked either signature). Replayed proofs, wrong htu and the
	// other DPoP checks are shown on the verifier itself (internal/auth).
	dpopToken, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": a, "iss": "https://attacker.example", "aud": "did:web:pds.example",
		"exp": soon.Unix(), "cnf": map[string]any{"jkt": "x"}}).SignedString(attackerKey)
	proof, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"htm": "POST", "htu": "https://alf.test/xrpc/" + lxm, "iat": time.Now().Unix(), "jti": "1"}).SignedString(attackerKey)

	cases := []struct {
		name   string
		header map[string]string
	}{
		{"unsigned HS256", map[string]string{"Authorization": "Bearer " + hs256}},
		{"alg none", map[string]string{"Authorization": "Bearer " + none}},
		{"attacker's key claiming alice", map[string]string{"Authorization": "Bearer " + forged}},
		{"key named by the token itself", map[string]string{"Authorization": "Bearer " + selfNamedToken}},
		{"expired", map[string]string{"Authorization": "Bearer " + expired}},
		{"another audience", map[string]string{"Authorization": "Bearer " + otherAud}},
		{"self-made DPoP token and proof", map[string]string{"Authorization": "DPoP " + dpopToken, "DPoP": proof}},
		{"no token", nil},
	}
	store := g.node.Store()
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := store.LastSeq(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ans := g.do(t, call{method: "POST", path: "/xrpc/" + lxm, header: tc.header, body: createBody(a, "", postRecord)})
			expect{status: http.StatusUnauthorized, name: "AuthenticationRequired"}.check(t, ans)
			drafts := alfv1connect.NewDraftServiceClient(http.DefaultClient, g.base, connect.WithInterceptors(headers(tc.header)))
			_, err = drafts.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "x")}))
			if code(err) != connect.CodeUnauthenticated {
				t.Fatalf("Connect: %v, want unauthenticated", err)
			}
			if after, _ := store.LastSeq(ctx); after != before {
				t.Fatalf("the log moved from %d to %d: a handler ran", before, after)
			}
		})
	}

	// Bob's valid token on alice's draft: authenticated, and refused as
	// not his, with nothing changed.
	mine := g.do(t, call{method: "POST", path: "/xrpc/" + lxm, as: alice, body: createBody(a, "", postRecord)})
	uri := mine.body["uri"].(string)
	before, _ := store.LastSeq(ctx)
	for _, c := range []call{
		{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.publishPost", as: g.bob, body: `{"uri":"` + uri + `"}`},
		{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.deletePost", as: g.bob, body: `{"uri":"` + uri + `"}`},
		{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + uri, as: g.bob},
	} {
		expect{status: http.StatusUnauthorized, name: "AuthenticationRequired"}.check(t, g.do(t, c))
	}
	_, err := g.drafts(t, g.bob).CancelDraft(ctx, connect.NewRequest(&alfv1.CancelDraftRequest{Uri: uri}))
	if code(err) != connect.CodePermissionDenied {
		t.Fatalf("bob cancelling alice's draft over Connect: %v", err)
	}
	if after, _ := store.LastSeq(ctx); after != before {
		t.Fatalf("bob's calls on alice's draft moved the log from %d to %d", before, after)
	}
}

// headers sets fixed request headers on every Connect call.
func headers(h map[string]string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			for k, v := range h {
				req.Header().Set(k, v)
			}
			return next(ctx, req)
		}
	})
}

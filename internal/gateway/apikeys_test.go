package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
)

// bearer signs every Connect call with a fixed Authorization header.
func bearer(value string) connect.Option {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", value)
			return next(ctx, req)
		}
	}))
}

// An API key, made with a service-auth token, acts as its account on both
// APIs, cannot manage keys, reach another account's drafts, or outlive its
// revocation; alf never shows its secret again.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	accounts := alfv1connect.NewAccountServiceClient(http.DefaultClient, g.base, signer(t, g.alice))
	made, err := accounts.CreateApiKey(ctx, connect.NewRequest(&alfv1.CreateApiKeyRequest{Name: "nightly bot"}))
	if err != nil {
		t.Fatal(err)
	}
	secret := made.Msg.Secret
	if !strings.HasPrefix(secret, "alf_") || len(secret) < 50 {
		t.Fatalf("secret %q", secret)
	}
	header := "Bearer " + secret
	a := g.alice.DID.String()

	// XRPC and Connect accept it as alice.
	created := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", header: map[string]string{"Authorization": header}, body: createBody(a, "", postRecord)})
	if created.status != 200 {
		t.Fatalf("createRecord with an API key: %d %s", created.status, created.raw)
	}
	drafts := alfv1connect.NewDraftServiceClient(http.DefaultClient, g.base, bearer(header))
	if _, err := drafts.GetDraft(ctx, connect.NewRequest(&alfv1.GetDraftRequest{Uri: created.body["uri"].(string)})); err != nil {
		t.Fatalf("GetDraft with an API key: %v", err)
	}
	bobs := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: g.bob, body: createBody(g.bob.DID.String(), "", postRecord)})
	if got := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + bobs.body["uri"].(string), header: map[string]string{"Authorization": header}}); got.status != 401 {
		t.Fatalf("alice's key on bob's draft: %d %s", got.status, got.raw)
	}

	// It cannot make or revoke keys, or delete the account.
	withKey := alfv1connect.NewAccountServiceClient(http.DefaultClient, g.base, bearer(header))
	if _, err := withKey.CreateApiKey(ctx, connect.NewRequest(&alfv1.CreateApiKeyRequest{Name: "escalate"})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("CreateApiKey with an API key: %v", err)
	}
	if got := g.do(t, call{method: "DELETE", path: "/account", header: map[string]string{"Authorization": header}}); got.status != 401 {
		t.Fatalf("DELETE /account with an API key: %d %s", got.status, got.raw)
	}

	list, err := accounts.ListApiKeys(ctx, connect.NewRequest(&alfv1.ListApiKeysRequest{}))
	if err != nil || len(list.Msg.ApiKeys) != 1 || list.Msg.ApiKeys[0].Name != "nightly bot" || strings.Contains(list.Msg.String(), secret[4:]) {
		t.Fatalf("ListApiKeys = %v, %v", list, err)
	}
	if _, err := accounts.RevokeApiKey(ctx, connect.NewRequest(&alfv1.RevokeApiKeyRequest{Id: "nosuchkey"})); code(err) != connect.CodeNotFound {
		t.Fatalf("revoking an unknown key: %v", err)
	}
	if _, err := accounts.RevokeApiKey(ctx, connect.NewRequest(&alfv1.RevokeApiKeyRequest{Id: made.Msg.ApiKey.Id})); err != nil {
		t.Fatal(err)
	}
	after := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", header: map[string]string{"Authorization": header}, body: createBody(a, "", postRecord)})
	if after.status != 401 || strings.Contains(after.raw, secret) {
		t.Fatalf("revoked key: %d %s", after.status, after.raw)
	}
	if got := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", header: map[string]string{"Authorization": "Bearer alf_forged"}, body: createBody(a, "", postRecord)}); got.status != 401 {
		t.Fatalf("forged key: %d", got.status)
	}
}

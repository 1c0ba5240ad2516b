package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/oauth"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/seal"
	"github.com/nats-io/nats.go/jetstream"
)

// The whole of alf against the TLS-mode PDS: a user authorizes alf through
// the gateway's /oauth/authorize and /oauth/callback (the browser played
// headlessly), /oauth/status then says OAuth, and a post scheduled over
// XRPC is published by the publisher through the OAuth session, with no
// app password anywhere.
func TestNodePublishesThroughOAuth(t *testing.T) {
	h := pdstest.LoadTLS(t)
	bob := h.Account(t, 1)
	ctx := context.Background()
	hc := h.HTTPClient(t)

	nc := natstest.Conn(t, natstest.Server(t))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Provision(ctx, js, events.Config{}); err != nil {
		t.Fatal(err)
	}
	key, _ := seal.NewKey()
	oauth.SeedClientKey(t, js, key)
	ln, err := net.Listen("tcp", h.ClientAddr) // the PDS fetches alf's client metadata here
	if err != nil {
		t.Fatalf("listen at the client address %s: %v", h.ClientAddr, err)
	}
	const serviceDID = "did:web:alf.e2e.internal"
	n, err := node.Start(ctx, node.Options{
		Conn: nc, Roles: node.All, Key: key, Listener: ln,
		ServiceURL: pdstest.OAuthClientOrigin, ServiceDID: serviceDID,
		Directory:         &identity.BaseDirectory{PLCURL: h.PLCURL, HTTPClient: *hc, SkipHandleVerification: true},
		HandleResolverURL: h.PublicURL,
		HTTPClient:        hc,
		CollectionNames:   []string{"app.bsky.feed.post"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	base := "http://" + n.Addr()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := noRedirect.Get(base + "/oauth/authorize?handle=" + bob.Handle)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	params, err := pdstest.Authorize(ctx, hc, resp.Header.Get("Location"), bob.Handle, bob.Password)
	if err != nil {
		t.Fatalf("sign in and consent: %v", err)
	}
	resp, err = noRedirect.Get(base + "/oauth/callback?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var done map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&done)
	resp.Body.Close()
	if resp.StatusCode != 200 || done["success"] != true || done["did"] != bob.DID {
		t.Fatalf("callback: %d %v", resp.StatusCode, done)
	}

	// The user's own password session with the PDS (on its plain-HTTP
	// listener) mints service-auth tokens for alf.
	user, err := atclient.LoginWithPasswordHost(ctx, h.PDSURL, bob.Handle, bob.Password, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	token := func(lxm string) string {
		var out struct{ Token string }
		if err := user.Get(ctx, "com.atproto.server.getServiceAuth", map[string]any{"aud": serviceDID, "lxm": lxm}, &out); err != nil {
			t.Fatal(err)
		}
		return out.Token
	}
	call := func(method, path, lxm string, body []byte, header map[string]string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token(lxm))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return out
	}
	if st := call("GET", "/oauth/status", "alf.v1.AccountService.GetAuthorization", nil, nil); st["authorized"] != true || st["authType"] != "oauth" {
		t.Fatalf("/oauth/status after OAuth: %v", st)
	}

	marker := fmt.Sprintf("alf over oauth %d", time.Now().UnixNano())
	body, _ := json.Marshal(map[string]any{"repo": bob.DID, "collection": "app.bsky.feed.post", "record": map[string]any{
		"$type": "app.bsky.feed.post", "text": marker, "createdAt": "2000-01-01T00:00:00Z",
	}})
	due := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	created := call("POST", "/xrpc/com.atproto.repo.createRecord", "com.atproto.repo.createRecord", body, map[string]string{"x-scheduled-at": due})
	uri := created["uri"].(string)
	deadline := time.Now().Add(20 * time.Second)
	var post map[string]any
	for {
		post = call("GET", "/xrpc/town.roundabout.scheduledPosts.getPost?uri="+url.QueryEscape(uri), "town.roundabout.scheduledPosts.getPost", nil, nil)
		if post["status"] == "published" || post["status"] == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if post["status"] != "published" {
		t.Fatalf("draft through OAuth: %v", post)
	}
	var rec struct {
		Value map[string]any `json:"value"`
	}
	if err := user.Get(ctx, "com.atproto.repo.getRecord", map[string]any{"repo": bob.DID, "collection": "app.bsky.feed.post", "rkey": post["rkey"]}, &rec); err != nil {
		t.Fatalf("the post is not on the PDS: %v", err)
	}
	if rec.Value["text"] != marker {
		t.Fatalf("record on the PDS: %v", rec.Value)
	}

	// DELETE /account: the grant is revoked and nothing of bob is left in
	// alf, in the log, the sessions or the object store.
	if del := call("DELETE", "/account", "alf.v1.AccountService.DeleteAccount", nil, nil); del["deleted"] != true {
		t.Fatalf("DELETE /account: %v", del)
	}
	if st := call("GET", "/oauth/status", "alf.v1.AccountService.GetAuthorization", nil, nil); st["authorized"] != false {
		t.Fatalf("/oauth/status after delete: %v", st)
	}
	if posts := call("GET", "/xrpc/town.roundabout.scheduledPosts.listPosts?repo="+url.QueryEscape(bob.DID), "town.roundabout.scheduledPosts.listPosts", nil, nil)["posts"].([]any); len(posts) != 0 {
		t.Fatalf("posts after delete: %v", posts)
	}
	var left int
	if err := n.Store().Replay(ctx, 1, events.AccountFilters(bob.DID), func(events.Event) error { left++; return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d events of bob left in the log", left)
	}
	sessions, err := js.KeyValue(ctx, events.BucketSessions)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := sessions.ListKeys(ctx); err == nil {
		for k := range keys.Keys() {
			t.Errorf("session %s left after delete", k)
		}
	}
}

package gateway_test

import (
	"context"

	"connectrpc.com/connect"
	"encoding/json"
	"fmt"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/node"
)

// call is one HTTP request to the gateway and what it answered.
type call struct {
	method, path string
	as           *authtest.Identity // signs a service-auth token for lxm; nil for none
	lxm          string             // default: the path's NSID
	header       map[string]string
	body         string
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (g *gateway) do(t *testing.T, c call) answer {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, g.base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.as != nil {
		lxm := c.lxm
		if lxm == "" {
			lxm, _, _ = strings.Cut(strings.TrimPrefix(c.path, "/xrpc/"), "?")
		}
		req.Header.Set("Authorization", c.as.Header(t, serviceDID, lxm))
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// expect is what a case must answer: the status, the error name (for
// errors), a message fragment, and keys the body must (or must not) have.
type expect struct {
	status  int
	name    string
	message string
	has     []string
	hasNot  []string
}

func (e expect) check(t *testing.T, a answer) {
	t.Helper()
	if a.status != e.status {
		t.Fatalf("status %d, want %d; body %s", a.status, e.status, a.raw)
	}
	if e.name != "" && a.body["error"] != e.name {
		t.Fatalf("error %v, want %s; body %s", a.body["error"], e.name, a.raw)
	}
	if msg, _ := a.body["message"].(string); e.message != "" && !strings.Contains(msg, e.message) {
		t.Fatalf("message %q, want it to contain %q", msg, e.message)
	}
	for _, k := range e.has {
		if _, ok := a.body[k]; !ok {
			t.Fatalf("body lacks %q: %s", k, a.raw)
		}
	}
	for _, k := range e.hasNot {
		if _, ok := a.body[k]; ok {
			t.Fatalf("body has %q: %s", k, a.raw)
		}
	}
}

const postRecord = `{"$type":"app.bsky.feed.post","text":"hello","createdAt":"2026-01-01T00:00:00.000Z"}`

func createBody(did, rkey, record string) string {
	b := `{"repo":"` + did + `","collection":"app.bsky.feed.post"`
	if rkey != "" {
		b += `,"rkey":"` + rkey + `"`
	}
	return b + `,"record":` + record + `}`
}

// The reference's routes, verbs and error answers (spec §4.1–§4.4), against
// the real gateway on an embedded nats-server.
func TestXRPCCompatibility(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	alice, bob := g.alice, g.bob
	a := alice.DID.String()
	// Fixtures: a draft of alice's to read and change.
	mine := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "3kfixture2222", postRecord)})
	if mine.status != 200 {
		t.Fatalf("fixture: %d %s", mine.status, mine.raw)
	}
	uri := mine.body["uri"].(string)
	missing := "at://" + a + "/app.bsky.feed.post/3knothere2222"

	tests := []struct {
		name string
		call call
		want expect
	}{
		// Global behaviour.
		{"health", call{method: "GET", path: "/health"}, expect{status: 200, has: []string{"status", "service"}}},
		{"xrpc health", call{method: "GET", path: "/xrpc/_health"}, expect{status: 200, has: []string{"version", "service"}}},
		{"unknown route", call{method: "GET", path: "/nope"}, expect{status: 404, name: "Not found"}},
		{"unknown method", call{method: "POST", path: "/xrpc/com.atproto.repo.getRecord"}, expect{status: 501, name: "MethodNotImplemented", message: "Method Not Implemented"}},
		{"wrong verb", call{method: "GET", path: "/xrpc/com.atproto.repo.createRecord"}, expect{status: 400, name: "InvalidRequest", message: "Incorrect HTTP method (GET) expected POST"}},
		{"malformed JSON", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: `{"repo":`}, expect{status: 400, name: "InvalidRequest"}},
		{"no token", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", body: createBody(a, "", postRecord)}, expect{status: 401, name: "AuthenticationRequired"}},
		{"token for another method", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, lxm: "com.atproto.repo.putRecord", body: createBody(a, "", postRecord)}, expect{status: 401, name: "AuthenticationRequired"}},

		{"status without a token", call{method: "GET", path: "/oauth/status"}, expect{status: 200, has: []string{"authorized", "authType"}, hasNot: []string{"disableRecurring"}}},
		{"status", call{method: "GET", path: "/oauth/status", as: alice, lxm: "alf.v1.AccountService.GetAuthorization"}, expect{status: 200, has: []string{"authorized", "authType", "disableRecurring"}}},

		// OAuth routes (§4.6), alf as a confidential client.
		{"client metadata", call{method: "GET", path: "/oauth/client-metadata.json"}, expect{status: 200, has: []string{"client_id", "jwks_uri", "token_endpoint_auth_method", "redirect_uris", "scope", "dpop_bound_access_tokens"}}},
		{"jwks", call{method: "GET", path: "/oauth/jwks.json"}, expect{status: 200, has: []string{"keys"}}},
		{"authorize without handle", call{method: "GET", path: "/oauth/authorize"}, expect{status: 400, name: "handle parameter is required"}},
		{"authorize to a foreign redirect", call{method: "GET", path: "/oauth/authorize?handle=alice.test&redirect_uri=https://evil.example/steal"}, expect{status: 400}},
		{"callback without code", call{method: "GET", path: "/oauth/callback"}, expect{status: 400, name: "Missing authorization code"}},
		{"delete account without a token", call{method: "DELETE", path: "/account"}, expect{status: 401, name: "AuthenticationRequired"}},
		{"delete account with a token for another method", call{method: "DELETE", path: "/account", as: bob, lxm: "alf.v1.AccountService.GetAuthorization"}, expect{status: 401, name: "AuthenticationRequired"}},
		{"trigger unknown", call{method: "POST", path: "/triggers/nope"}, expect{status: 404, name: "NotFound", message: "Trigger key not found"}},
		{"GET a trigger", call{method: "GET", path: "/triggers/nope"}, expect{status: 404, name: "Not found"}},

		// Repo writes (§4.3).
		{"create", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "", postRecord)}, expect{status: 200, has: []string{"uri", "cid", "validationStatus"}, hasNot: []string{"triggerUrl"}}},
		{"create without repo", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: `{"collection":"app.bsky.feed.post","record":` + postRecord + `}`}, expect{status: 400, name: "InvalidRequest", message: `Input must have the property "repo"`}},
		{"create for another repo", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(bob.DID.String(), "", postRecord)}, expect{status: 400, name: "InvalidRequest", message: "repo must match authenticated user"}},
		{"create without collection", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: `{"repo":"` + a + `","record":{}}`}, expect{status: 400, name: "InvalidRequest", message: `Input must have the property "collection"`}},
		{"create with a bad collection", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: `{"repo":"` + a + `","collection":"nope","record":{}}`}, expect{status: 400, name: "InvalidRequest", message: "Input/collection must be a valid nsid"}},
		{"record not an object", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "", `"text"`)}, expect{status: 400, name: "InvalidRequest", message: "Input/record must be an object"}},
		{"bad rkey", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "a/b", postRecord)}, expect{status: 400, name: "InvalidRequest"}},
		{"float in the record", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "", `{"$type":"app.bsky.feed.post","text":"x","createdAt":"2026-01-01T00:00:00Z","n":1.5}`)}, expect{status: 400, name: "InvalidRequest"}},
		{"$type of another collection", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "", `{"$type":"app.bsky.feed.like","createdAt":"2026-01-01T00:00:00Z"}`)}, expect{status: 400, name: "InvalidRequest"}},
		{"post text too long", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "", `{"$type":"app.bsky.feed.post","text":"`+strings.Repeat("a", 301)+`","createdAt":"2026-01-01T00:00:00Z"}`)}, expect{status: 400, name: "InvalidRequest"}},
		{"duplicate draft", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "3kfixture2222", postRecord)}, expect{status: 400, name: "DuplicateDraft", message: "An active draft already exists for URI: " + uri}},
		{"scheduled", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, header: map[string]string{"x-scheduled-at": "2030-01-01T09:00:00Z"}, body: createBody(a, "", postRecord)}, expect{status: 200, has: []string{"uri", "cid"}}},
		{"unparseable x-scheduled-at", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, header: map[string]string{"x-scheduled-at": "next tuesday"}, body: createBody(a, "", postRecord)}, expect{status: 400, name: "InvalidRequest", message: "x-scheduled-at"}},
		{"trigger", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, header: map[string]string{"x-trigger": "webhook"}, body: createBody(a, "", postRecord)}, expect{status: 200, has: []string{"uri", "triggerUrl"}}},
		{"trigger header is case-sensitive", call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, header: map[string]string{"x-trigger": "Webhook"}, body: createBody(a, "", postRecord)}, expect{status: 200, hasNot: []string{"triggerUrl"}}},
		{"put without rkey", call{method: "POST", path: "/xrpc/com.atproto.repo.putRecord", as: alice, body: createBody(a, "", postRecord)}, expect{status: 400, name: "InvalidRequest"}},
		{"put", call{method: "POST", path: "/xrpc/com.atproto.repo.putRecord", as: alice, body: `{"repo":"` + a + `","collection":"app.bsky.actor.profile","rkey":"self","record":{"$type":"app.bsky.actor.profile","displayName":"Alice"}}`}, expect{status: 200, has: []string{"uri", "cid"}}},
		{"delete", call{method: "POST", path: "/xrpc/com.atproto.repo.deleteRecord", as: alice, body: `{"repo":"` + a + `","collection":"app.bsky.feed.post","rkey":"3kdelete22222"}`}, expect{status: 200, hasNot: []string{"uri", "triggerUrl"}}},
		{"delete with trigger", call{method: "POST", path: "/xrpc/com.atproto.repo.deleteRecord", as: alice, header: map[string]string{"x-trigger": "webhook"}, body: `{"repo":"` + a + `","collection":"app.bsky.feed.post","rkey":"3kdelete33333"}`}, expect{status: 200, has: []string{"triggerUrl"}}},

		// Draft management (§4.4).
		{"listPosts without repo", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts", as: alice}, expect{status: 400, name: "InvalidRequest", message: `Params must have the property "repo"`}},
		{"listPosts of another", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?repo=" + bob.DID.String(), as: alice}, expect{status: 401, name: "AuthenticationRequired", message: "You can only list your own drafts"}},
		{"listPosts limit 0", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?limit=0&repo=" + a, as: alice}, expect{status: 400, name: "InvalidRequest", message: "limit can not be less than 1"}},
		{"listPosts limit 101", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?limit=101&repo=" + a, as: alice}, expect{status: 400, name: "InvalidRequest", message: "limit can not be greater than 100"}},
		{"listPosts", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?repo=" + a, as: alice}, expect{status: 200, has: []string{"posts"}}},
		{"getPost bad uri", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=nope", as: alice}, expect{status: 400, name: "InvalidRequest", message: "uri must be a valid at-uri"}},
		{"getPost of another", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + uri, as: bob}, expect{status: 401, name: "AuthenticationRequired", message: "You can only view your own drafts"}},
		{"getPost of another's missing draft", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + missing, as: bob}, expect{status: 401, name: "AuthenticationRequired"}},
		{"getPost missing", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + missing, as: alice}, expect{status: 400, name: "NotFound", message: "Draft not found"}},
		{"getPost", call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + uri, as: alice}, expect{status: 200, has: []string{"uri", "cid", "collection", "rkey", "action", "status", "createdAt", "record"}}},
		{"schedulePost of another", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.schedulePost", as: bob, body: `{"uri":"` + uri + `","publishAt":"2030-01-01T00:00:00Z"}`}, expect{status: 401, name: "AuthenticationRequired", message: "You can only schedule your own drafts"}},
		{"schedulePost missing", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.schedulePost", as: alice, body: `{"uri":"` + missing + `","publishAt":"2030-01-01T00:00:00Z"}`}, expect{status: 400, name: "NotFound", message: "Draft not found or not in a schedulable state"}},
		{"schedulePost bad time", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.schedulePost", as: alice, body: `{"uri":"` + uri + `","publishAt":"soon"}`}, expect{status: 400, name: "InvalidRequest", message: "publishAt"}},
		{"publishPost of another", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.publishPost", as: bob, body: `{"uri":"` + uri + `"}`}, expect{status: 401, name: "AuthenticationRequired", message: "You can only publish your own drafts"}},
		{"publishPost missing", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.publishPost", as: alice, body: `{"uri":"` + missing + `"}`}, expect{status: 400, name: "NotFound", message: "Draft not found"}},
		{"updatePost of another", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.updatePost", as: bob, body: `{"uri":"` + uri + `"}`}, expect{status: 401, name: "AuthenticationRequired", message: "You can only update your own drafts"}},
		{"updatePost missing", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.updatePost", as: alice, body: `{"uri":"` + missing + `"}`}, expect{status: 400, name: "NotFound", message: "Draft not found or not in an updatable state"}},
		{"updatePost bad record", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.updatePost", as: alice, body: `{"uri":"` + uri + `","record":{"$type":"app.bsky.feed.post","text":1}}`}, expect{status: 400, name: "InvalidRequest"}},
		{"deletePost of another", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.deletePost", as: bob, body: `{"uri":"` + uri + `"}`}, expect{status: 401, name: "AuthenticationRequired", message: "You can only delete your own drafts"}},
		{"deletePost missing", call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.deletePost", as: alice, body: `{"uri":"` + missing + `"}`}, expect{status: 200}},

		// Blobs (§4.6).
		{"blob without token", call{method: "POST", path: "/blob", body: "abc"}, expect{status: 401, name: "AuthRequired"}},
		{"blob empty", call{method: "POST", path: "/blob", as: alice, lxm: "com.atproto.repo.uploadBlob", header: map[string]string{"Content-Type": "image/png"}}, expect{status: 400, name: "InvalidRequest", message: "Request body is required"}},
		{"blob", call{method: "POST", path: "/blob", as: alice, lxm: "com.atproto.repo.uploadBlob", header: map[string]string{"Content-Type": "image/png"}, body: "\x09\x09\x09"}, expect{status: 200, has: []string{"cid", "mimeType", "size"}}},
		{"image too large", call{method: "POST", path: "/blob", as: alice, lxm: "com.atproto.repo.uploadBlob", header: map[string]string{"Content-Type": "image/png"}, body: strings.Repeat("x", 1_000_001)}, expect{status: 413}},
		{"uploadBlob", call{method: "POST", path: "/xrpc/com.atproto.repo.uploadBlob", as: alice, header: map[string]string{"Content-Type": "image/png"}, body: "\x01\x02\x03"}, expect{status: 200, has: []string{"blob"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.check(t, g.do(t, tt.call))
		})
	}

	meta := g.do(t, call{method: "GET", path: "/oauth/client-metadata.json"}).body
	if meta["client_id"] != "https://alf.test/oauth/client-metadata.json" || meta["token_endpoint_auth_method"] != "private_key_jwt" ||
		meta["jwks_uri"] != "https://alf.test/oauth/jwks.json" || !strings.Contains(fmt.Sprint(meta["scope"]), "atproto") {
		t.Errorf("client metadata %v", meta)
	}
	if keys := g.do(t, call{method: "GET", path: "/oauth/jwks.json"}).body["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["d"] != nil {
		t.Errorf("jwks %v: want one public key", keys)
	}

	// Exact bodies where the reference pins them.
	if got := g.do(t, call{method: "GET", path: "/health"}).raw; got != `{"status":"ok","service":"alf"}` {
		t.Errorf("/health = %s", got)
	}
	if got := g.do(t, call{method: "GET", path: "/xrpc/_health"}).raw; got != `{"version":"1.0.0","service":"alf"}` {
		t.Errorf("/xrpc/_health = %s", got)
	}
	blobCID := g.do(t, call{method: "POST", path: "/blob", as: alice, lxm: "com.atproto.repo.uploadBlob", header: map[string]string{"Content-Type": "image/png"}, body: "\x09\x09\x09"}).body["cid"]
	if blobCID != "bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq" {
		t.Errorf("blob CID %v, want the spec's vector", blobCID)
	}
	trig := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, header: map[string]string{"x-trigger": "webhook"}, body: createBody(a, "", postRecord)})
	if !regexp.MustCompile(`^https://alf\.test/triggers/[a-z2-7]{32}$`).MatchString(trig.body["triggerUrl"].(string)) {
		t.Errorf("triggerUrl %v", trig.body["triggerUrl"])
	}
}

// A body over 1 MB is refused with 413, not stored and not a 500.
func TestXRPCBodyLimit(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	big := createBody(g.alice.DID.String(), "", `{"$type":"app.bsky.feed.post","text":"`+strings.Repeat("a", 1<<20)+`"}`)
	a := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: g.alice, body: big})
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413; %s", a.status, a.raw)
	}
}

// CORS: any origin is reflected; preflights allow the DPoP header.
func TestCORS(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	req, _ := http.NewRequest("OPTIONS", g.base+"/xrpc/com.atproto.repo.createRecord", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, dpop, x-scheduled-at")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "dpop") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
}

// MAX_DRAFTS_PER_USER holds under concurrent writes: of 20 creates racing
// for 5 places, exactly 5 succeed and the rest get DraftLimitExceeded.
func TestDraftLimitIsAtomic(t *testing.T) {
	t.Parallel()
	const limit, writers = 5, 20
	g := startTuned(t, node.Roles{Gateway: true}, func(o *node.Options) { o.MaxDrafts = limit })
	a := g.alice.DID.String()
	var mu sync.Mutex
	statuses := map[int]int{}
	names := map[string]int{}
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ans := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: g.alice, body: createBody(a, "", postRecord)})
			mu.Lock()
			statuses[ans.status]++
			if name, ok := ans.body["error"].(string); ok {
				names[name]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != limit || names["DraftLimitExceeded"] != writers-limit {
		t.Fatalf("answers %v, errors %v: want %d created and %d DraftLimitExceeded", statuses, names, limit, writers-limit)
	}
	list := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?repo=" + a, as: g.alice})
	if n := len(list.body["posts"].([]any)); n != limit {
		t.Fatalf("%d drafts stored, want %d", n, limit)
	}
}

// ALLOWED_COLLECTIONS is enforced on every write.
func TestAllowedCollections(t *testing.T) {
	t.Parallel()
	g := startTuned(t, node.Roles{Gateway: true}, func(o *node.Options) {
		o.Collections = func(nsid string) bool { return nsid == "app.bsky.feed.post" }
	})
	a := g.alice.DID.String()
	ok := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: g.alice, body: createBody(a, "", postRecord)})
	refused := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.putRecord", as: g.alice,
		body: `{"repo":"` + a + `","collection":"app.bsky.actor.profile","rkey":"self","record":{"$type":"app.bsky.actor.profile"}}`})
	if ok.status != 200 || refused.status != 400 || !strings.Contains(refused.raw, "not allowed") {
		t.Fatalf("allowed %d %s; refused %d %s", ok.status, ok.raw, refused.status, refused.raw)
	}
	// The Connect API refuses it too, for single writes and batches.
	drafts := g.drafts(t, g.alice)
	profile, _ := structpb.NewStruct(map[string]any{"$type": "app.bsky.actor.profile"})
	for name, req := range map[string]*alfv1.CreateDraftRequest{
		"single": {Collection: "app.bsky.actor.profile", Rkey: "self", Action: alfv1.DraftAction_DRAFT_ACTION_PUT, Record: profile},
		"batch":  {Writes: []*alfv1.DraftWrite{{Action: alfv1.DraftAction_DRAFT_ACTION_PUT, Collection: "app.bsky.actor.profile", Rkey: "self", Record: profile}}},
	} {
		_, err := drafts.CreateDraft(context.Background(), connect.NewRequest(req))
		if code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("Connect %s write of a collection not allowed: %v", name, err)
		}
	}
}

// unschedulePost and retryPost give XRPC clients what the Connect API has.
func TestUnscheduleAndRetryOverXRPC(t *testing.T) {
	t.Parallel()
	g := startGateway(t) // no publisher: failDraft records the failure
	a := g.alice.DID.String()
	created := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: g.alice,
		header: map[string]string{"x-scheduled-at": "2031-01-01T00:00:00Z"}, body: createBody(a, "", postRecord)})
	uri := created.body["uri"].(string)
	body := `{"uri":"` + uri + `"}`
	un := g.do(t, call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.unschedulePost", as: g.alice, body: body})
	if un.status != 200 || un.body["status"] != "draft" || un.body["scheduledAt"] != nil {
		t.Fatalf("unschedulePost: %d %s", un.status, un.raw)
	}
	if r := g.do(t, call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.retryPost", as: g.alice, body: body}); r.status != 400 {
		t.Fatalf("retryPost of a draft that did not fail: %d %s", r.status, r.raw)
	}
	g.failDraft(t, uri)
	re := g.do(t, call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.retryPost", as: g.alice, body: body})
	if re.status != 200 || re.body["status"] != "scheduled" {
		t.Fatalf("retryPost: %d %s", re.status, re.raw)
	}
	if r := g.do(t, call{method: "POST", path: "/xrpc/town.roundabout.scheduledPosts.retryPost", as: g.bob, body: body}); r.status != 401 {
		t.Fatalf("retryPost of another's draft: %d %s", r.status, r.raw)
	}
}

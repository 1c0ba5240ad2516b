package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/atclient"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The whole pipeline against a real PDS: an account connects an app
// password, schedules a post, a profile put and then a delete of the post;
// each is on the PDS once, under the draft's rkey.
func TestEndToEndScheduledWrites(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	hooks := make(chan map[string]any, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		hooks <- body
	}))
	t.Cleanup(receiver.Close)
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, func(o *node.Options) {
		o.WebhookURL = receiver.URL + "/published"
	})
	u := signIn(t, h, 0)
	drafts, accounts := u.clients(n)
	connectAccount(t, u, accounts)

	marker := fmt.Sprintf("alf e2e %d", time.Now().UnixNano())
	post := createDraft(t, drafts, markedPost(t, marker, timestamppb.New(time.Now().Add(2*time.Second))))
	profile := createDraft(t, drafts, &alfv1.CreateDraftRequest{
		Collection:  "app.bsky.actor.profile",
		Rkey:        "self",
		Action:      alfv1.DraftAction_DRAFT_ACTION_PUT,
		Record:      mustStruct(t, map[string]any{"$type": "app.bsky.actor.profile", "displayName": marker}),
		ScheduledAt: timestamppb.New(time.Now().Add(2 * time.Second)),
	})
	if post.Status != alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED {
		t.Fatalf("new draft status = %s, want scheduled", post.Status)
	}

	post = awaitStatus(t, drafts, post.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)
	profile = awaitStatus(t, drafts, profile.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)

	// The post-publish webhook tells of both writes.
	told := map[string]any{}
	for range 2 {
		select {
		case hook := <-hooks:
			told[hook["uri"].(string)] = hook["cid"]
		case <-time.After(10 * time.Second):
			t.Fatalf("webhook told of %d publishes, want 2", len(told))
		}
	}
	if told[post.Uri] != post.PublishedCid || told[profile.Uri] == nil {
		t.Fatalf("webhook told %v", told)
	}
	rec := getRecord(t, u.client, "app.bsky.feed.post", post.Rkey)
	if rec.CID != post.PublishedCid || rec.Value["text"] != marker {
		t.Fatalf("post on PDS = %s %v, want cid %s text %q", rec.CID, rec.Value, post.PublishedCid, marker)
	}
	written, err := time.Parse(time.RFC3339, rec.Value["createdAt"].(string))
	if err != nil || written.Sub(post.ScheduledAt.AsTime()).Abs() > 10*time.Second {
		t.Fatalf("createdAt = %v, want the write time near %s", rec.Value["createdAt"], post.ScheduledAt.AsTime())
	}
	if got := countPosts(t, u.client, marker); got != 1 {
		t.Fatalf("%d posts with the marker on the PDS, want exactly 1", got)
	}
	if p := getRecord(t, u.client, "app.bsky.actor.profile", "self"); p.Value["displayName"] != marker {
		t.Fatalf("profile displayName = %v, want %q", p.Value["displayName"], marker)
	}

	del := createDraft(t, drafts, &alfv1.CreateDraftRequest{
		Collection:  "app.bsky.feed.post",
		Rkey:        post.Rkey,
		Action:      alfv1.DraftAction_DRAFT_ACTION_DELETE,
		ScheduledAt: timestamppb.New(time.Now().Add(2 * time.Second)),
	})
	awaitStatus(t, drafts, del.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)
	if got := countPosts(t, u.client, marker); got != 0 {
		t.Fatalf("%d posts with the marker after the delete, want 0", got)
	}
}

// A draft cancelled before its time is never written.
func TestCancelBeforeDueWritesNothing(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, nil)
	u := signIn(t, h, 1)
	drafts, accounts := u.clients(n)
	connectAccount(t, u, accounts)

	marker := fmt.Sprintf("alf cancelled %d", time.Now().UnixNano())
	d := createDraft(t, drafts, markedPost(t, marker, timestamppb.New(time.Now().Add(1500*time.Millisecond))))
	res, err := drafts.CancelDraft(context.Background(), connect.NewRequest(&alfv1.CancelDraftRequest{Uri: d.Uri}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.Draft.Status != alfv1.DraftStatus_DRAFT_STATUS_CANCELLED {
		t.Fatalf("status after cancel = %s", res.Msg.Draft.Status)
	}
	time.Sleep(3 * time.Second) // well past the old due time
	if got := countPosts(t, u.client, marker); got != 0 {
		t.Fatalf("%d posts written for a cancelled draft", got)
	}
	if d := getDraft(t, drafts, d.Uri); d.Status != alfv1.DraftStatus_DRAFT_STATUS_CANCELLED || d.Attempts != 0 {
		t.Fatalf("cancelled draft moved on: %s, %d attempts", d.Status, d.Attempts)
	}
}

func connectAccount(t *testing.T, u *user, accounts alfv1connect.AccountServiceClient) {
	t.Helper()
	res, err := accounts.ConnectAppPassword(context.Background(), connect.NewRequest(&alfv1.ConnectAppPasswordRequest{
		Identifier: u.acct.Handle, AppPassword: u.acct.AppPassword,
	}))
	if err != nil {
		t.Fatalf("ConnectAppPassword: %v", err)
	}
	a := res.Msg.Authorization
	if !a.Authorized || a.Did != u.acct.DID || a.Method != alfv1.AuthMethod_AUTH_METHOD_APP_PASSWORD {
		t.Fatalf("authorization = %v", a)
	}
	got, err := accounts.GetAuthorization(context.Background(), connect.NewRequest(&alfv1.GetAuthorizationRequest{}))
	if err != nil || !got.Msg.Authorization.Authorized {
		t.Fatalf("GetAuthorization = %v, %v", got, err)
	}
}

func createDraft(t *testing.T, drafts alfv1connect.DraftServiceClient, req *alfv1.CreateDraftRequest) *alfv1.Draft {
	t.Helper()
	res, err := drafts.CreateDraft(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("CreateDraft: %v", err)
	}
	return res.Msg.Draft
}

func getDraft(t *testing.T, drafts alfv1connect.DraftServiceClient, uri string) *alfv1.Draft {
	t.Helper()
	res, err := drafts.GetDraft(context.Background(), connect.NewRequest(&alfv1.GetDraftRequest{Uri: uri}))
	if err != nil {
		t.Fatalf("GetDraft: %v", err)
	}
	return res.Msg.Draft
}

func awaitStatus(t *testing.T, drafts alfv1connect.DraftServiceClient, uri string, want alfv1.DraftStatus) *alfv1.Draft {
	t.Helper()
	var d *alfv1.Draft
	eventually(t, 20*time.Second, fmt.Sprintf("%s to be %s", uri, want), func() bool {
		d = getDraft(t, drafts, uri)
		if d.Status == alfv1.DraftStatus_DRAFT_STATUS_FAILED {
			t.Fatalf("draft failed: %s", d.FailureReason)
		}
		return d.Status == want
	})
	return d
}

// markedPost is a post whose text marks it for countPosts, due at at, with
// a createdAt alf must replace by the time of the write.
func markedPost(t *testing.T, marker string, at *timestamppb.Timestamp) *alfv1.CreateDraftRequest {
	return &alfv1.CreateDraftRequest{
		Collection:  "app.bsky.feed.post",
		Record:      mustStruct(t, map[string]any{"$type": "app.bsky.feed.post", "text": marker, "createdAt": "2000-01-01T00:00:00.000Z"}),
		ScheduledAt: at,
	}
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type pdsRecord struct {
	CID   string         `json:"cid"`
	Value map[string]any `json:"value"`
}

func getRecord(t *testing.T, c *atclient.APIClient, collection, rkey string) pdsRecord {
	t.Helper()
	var out pdsRecord
	err := c.Get(context.Background(), "com.atproto.repo.getRecord", map[string]any{
		"repo": c.AccountDID.String(), "collection": collection, "rkey": rkey,
	}, &out)
	if err != nil {
		t.Fatalf("getRecord %s/%s: %v", collection, rkey, err)
	}
	return out
}

// countPosts counts the account's posts whose text is text.
func countPosts(t *testing.T, c *atclient.APIClient, text string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		var out struct {
			Records []pdsRecord `json:"records"`
			Cursor  string      `json:"cursor"`
		}
		params := map[string]any{"repo": c.AccountDID.String(), "collection": "app.bsky.feed.post", "limit": 100}
		if cursor != "" {
			params["cursor"] = cursor
		}
		if err := c.Get(context.Background(), "com.atproto.repo.listRecords", params, &out); err != nil {
			t.Fatalf("listRecords: %v", err)
		}
		for _, r := range out.Records {
			if r.Value["text"] == text {
				n++
			}
		}
		if out.Cursor == "" || len(out.Records) == 0 {
			return n
		}
		cursor = out.Cursor
	}
}

// Publishing a scheduled draft early publishes it once, and never again at
// its old time; PublishDraft answers with the outcome.
func TestPublishEarlyPublishesOnce(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, nil)
	u := signIn(t, h, 1)
	drafts, accounts := u.clients(n)
	connectAccount(t, u, accounts)

	marker := fmt.Sprintf("alf early %d", time.Now().UnixNano())
	d := createDraft(t, drafts, markedPost(t, marker, timestamppb.New(time.Now().Add(2*time.Second))))
	res, err := drafts.PublishDraft(context.Background(), connect.NewRequest(&alfv1.PublishDraftRequest{Uri: d.Uri}))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Msg.Draft; got.Status != alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED || got.PublishedCid == "" {
		t.Fatalf("PublishDraft answered %s (cid %q), want the published draft", got.Status, got.PublishedCid)
	}
	time.Sleep(3 * time.Second) // past the old due time
	if got := countPosts(t, u.client, marker); got != 1 {
		t.Fatalf("%d posts, want exactly 1", got)
	}
	if got := getDraft(t, drafts, d.Uri); got.Attempts != 1 {
		t.Fatalf("%d attempts, want 1", got.Attempts)
	}
}

// A trigger URL publishes its draft once: 200 with the URI, then 409.
func TestTriggerPublishesOnce(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, nil)
	u := signIn(t, h, 2)
	drafts, accounts := u.clients(n)
	connectAccount(t, u, accounts)

	marker := fmt.Sprintf("alf trigger %d", time.Now().UnixNano())
	req := markedPost(t, marker, nil)
	req.Trigger = true
	d := createDraft(t, drafts, req)
	key := d.TriggerUrl[strings.LastIndex(d.TriggerUrl, "/")+1:]
	fire := func() (int, map[string]any) {
		resp, err := http.Post("http://"+n.Addr()+"/triggers/"+key, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if status, body := fire(); status != http.StatusOK || body["published"] != true || body["uri"] != d.Uri {
		t.Fatalf("first fire: %d %v", status, body)
	}
	if status, body := fire(); status != http.StatusConflict || body["error"] != "TriggerAlreadyFired" {
		t.Fatalf("second fire: %d %v, want 409 TriggerAlreadyFired", status, body)
	}
	if got := countPosts(t, u.client, marker); got != 1 {
		t.Fatalf("%d posts, want 1", got)
	}
}

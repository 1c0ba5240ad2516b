package gateway_test

import (
	"context"
	"encoding/json"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/seal"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const serviceDID = "did:web:alf.test"

// gateway is a running gateway node and the identities it knows.
type gateway struct {
	base       string
	alice, bob *authtest.Identity
	node       *node.Node
	opts       node.Options // what the node was started with
}

func startGateway(t *testing.T) *gateway {
	t.Helper()
	return startNode(t, node.Roles{Gateway: true})
}

// startNode is startGateway with other roles too.
func startNode(t *testing.T, roles node.Roles) *gateway {
	t.Helper()
	return startTuned(t, roles, nil)
}

// startTuned is startNode with options changed by tune.
func startTuned(t *testing.T, roles node.Roles, tune func(*node.Options)) *gateway {
	t.Helper()
	nc := natstest.Conn(t, natstest.Server(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{alice: authtest.NewIdentity(t), bob: authtest.NewIdentityP256(t)}
	key, _ := seal.NewKey()
	opts := node.Options{
		Conn: nc, Roles: roles, Key: key, Listener: ln, ServiceURL: "https://alf.test",
		ServiceDID: serviceDID, Directory: authtest.Directory(g.alice, g.bob),
	}
	if tune != nil {
		tune(&opts)
	}
	n, err := node.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	g.base = "http://" + n.Addr()
	g.node = n
	g.opts = opts
	return g
}

// signer signs each call as id for its own method.
func signer(t *testing.T, id *authtest.Identity) connect.Option {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", id.Header(t, serviceDID, auth.ProcedureLXM(req.Spec().Procedure)))
			return next(ctx, req)
		}
	}))
}

func (g *gateway) drafts(t *testing.T, id *authtest.Identity, opts ...connect.ClientOption) alfv1connect.DraftServiceClient {
	return alfv1connect.NewDraftServiceClient(http.DefaultClient, g.base, append(opts, signer(t, id))...)
}

func post(t *testing.T, text string) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(map[string]any{"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func code(err error) connect.Code {
	if err == nil {
		return 0
	}
	return connect.CodeOf(err)
}

func TestEveryRPCNeedsAValidServiceAuthToken(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	stranger := authtest.NewIdentity(t) // not in the directory
	const lxm = "alf.v1.DraftService.ListDrafts"
	tests := []struct {
		name, header string
	}{
		{"no header", ""},
		{"basic scheme", "Basic YWxpY2U6cGFzcw=="},
		{"token for another method", g.alice.Header(t, serviceDID, "alf.v1.DraftService.CreateDraft")},
		{"token for another service", g.alice.Header(t, "did:web:other.test", lxm)},
		{"expired token", "Bearer " + g.alice.Token(t, serviceDID, lxm, -time.Minute)},
		{"unknown DID", stranger.Header(t, serviceDID, lxm)},
		{"unsigned token", "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJkaWQ6cGxjOngiLCJhdWQiOiJkaWQ6d2ViOmFsZi50ZXN0In0."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := alfv1connect.NewDraftServiceClient(http.DefaultClient, g.base)
			req := connect.NewRequest(&alfv1.ListDraftsRequest{})
			if tt.header != "" {
				req.Header().Set("Authorization", tt.header)
			}
			_, err := c.ListDrafts(context.Background(), req)
			if code(err) != connect.CodeUnauthenticated {
				t.Fatalf("err = %v, want unauthenticated", err)
			}
		})
	}
}

func TestUsersSeeAndChangeOnlyTheirOwnDrafts(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	alice, bob := g.drafts(t, g.alice), g.drafts(t, g.bob)
	res, err := alice.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "mine")}))
	if err != nil {
		t.Fatal(err)
	}
	uri := res.Msg.Draft.Uri
	if _, err := bob.GetDraft(ctx, connect.NewRequest(&alfv1.GetDraftRequest{Uri: uri})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("bob GetDraft: %v, want permission denied", err)
	}
	if _, err := bob.CancelDraft(ctx, connect.NewRequest(&alfv1.CancelDraftRequest{Uri: uri})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("bob CancelDraft: %v, want permission denied", err)
	}
	if _, err := bob.PublishDraft(ctx, connect.NewRequest(&alfv1.PublishDraftRequest{Uri: uri})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("bob PublishDraft: %v, want permission denied", err)
	}
	list, err := bob.ListDrafts(ctx, connect.NewRequest(&alfv1.ListDraftsRequest{}))
	if err != nil || len(list.Msg.Drafts) != 0 {
		t.Fatalf("bob lists %v, %v; want nothing", list, err)
	}
	got, err := alice.GetDraft(ctx, connect.NewRequest(&alfv1.GetDraftRequest{Uri: uri}))
	if err != nil || got.Msg.Draft.Status != alfv1.DraftStatus_DRAFT_STATUS_DRAFT {
		t.Fatalf("alice GetDraft: %v, %v", got, err)
	}
}

func TestCreateDraftRefusesBadInput(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	alice := g.drafts(t, g.alice)
	float, _ := structpb.NewStruct(map[string]any{"$type": "app.bsky.feed.post", "text": "x", "n": 1.5})
	tests := []struct {
		name string
		req  *alfv1.CreateDraftRequest
	}{
		{"bad collection", &alfv1.CreateDraftRequest{Collection: "not a nsid", Record: post(t, "x")}},
		{"put without rkey", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Action: alfv1.DraftAction_DRAFT_ACTION_PUT, Record: post(t, "x")}},
		{"delete without rkey", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Action: alfv1.DraftAction_DRAFT_ACTION_DELETE}},
		{"bad rkey", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Rkey: "../x", Record: post(t, "x")}},
		{"delete with a record", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Rkey: "abc", Action: alfv1.DraftAction_DRAFT_ACTION_DELETE, Record: post(t, "x")}},
		{"create without record", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post"}},
		{"$type of another collection", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.like", Record: post(t, "x")}},
		{"float in the record", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: float}},
		{"invalid time", &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "x"), ScheduledAt: &timestamppb.Timestamp{Seconds: -1e15}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := alice.CreateDraft(context.Background(), connect.NewRequest(tt.req))
			if code(err) != connect.CodeInvalidArgument {
				t.Fatalf("err = %v, want invalid argument", err)
			}
		})
	}
}

func TestDraftLifecycleCommands(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	alice := g.drafts(t, g.alice)
	create := &alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Rkey: "3kw9mts3abc22", Record: post(t, "hi")}
	first, err := alice.CreateDraft(ctx, connect.NewRequest(create))
	if err != nil {
		t.Fatal(err)
	}
	uri := first.Msg.Draft.Uri
	if uri != "at://"+g.alice.DID.String()+"/app.bsky.feed.post/3kw9mts3abc22" {
		t.Fatalf("uri = %s", uri)
	}
	if _, err := alice.CreateDraft(ctx, connect.NewRequest(create)); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("second draft of an active URI: %v, want already exists", err)
	}
	at := timestamppb.New(time.Now().Add(time.Hour).Truncate(time.Millisecond))
	s, err := alice.ScheduleDraft(ctx, connect.NewRequest(&alfv1.ScheduleDraftRequest{Uri: uri, ScheduledAt: at}))
	if err != nil || s.Msg.Draft.Status != alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED || !s.Msg.Draft.ScheduledAt.AsTime().Equal(at.AsTime()) {
		t.Fatalf("ScheduleDraft: %v, %v", s, err)
	}
	scheduled, err := alice.ListDrafts(ctx, connect.NewRequest(&alfv1.ListDraftsRequest{Status: alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED}))
	if err != nil || len(scheduled.Msg.Drafts) != 1 {
		t.Fatalf("scheduled drafts: %v, %v", scheduled, err)
	}
	c, err := alice.CancelDraft(ctx, connect.NewRequest(&alfv1.CancelDraftRequest{Uri: uri}))
	if err != nil || c.Msg.Draft.Status != alfv1.DraftStatus_DRAFT_STATUS_CANCELLED {
		t.Fatalf("CancelDraft: %v, %v", c, err)
	}
	if _, err := alice.ScheduleDraft(ctx, connect.NewRequest(&alfv1.ScheduleDraftRequest{Uri: uri, ScheduledAt: at})); code(err) != connect.CodeFailedPrecondition {
		t.Fatalf("scheduling a cancelled draft: %v, want failed precondition", err)
	}
	again, err := alice.CreateDraft(ctx, connect.NewRequest(create))
	if err != nil || again.Msg.Draft.Status != alfv1.DraftStatus_DRAFT_STATUS_DRAFT {
		t.Fatalf("new draft of the URI after cancel: %v, %v", again, err)
	}
	all, err := alice.ListDrafts(ctx, connect.NewRequest(&alfv1.ListDraftsRequest{}))
	if err != nil || len(all.Msg.Drafts) != 2 {
		t.Fatalf("all drafts: %v, %v (want the cancelled one and the new one)", all, err)
	}
	for _, bad := range []*alfv1.ListDraftsRequest{{PageSize: 101}, {PageSize: -1}, {PageToken: "!!"}} {
		if _, err := alice.ListDrafts(ctx, connect.NewRequest(bad)); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("ListDrafts(%v): %v, want invalid argument", bad, err)
		}
	}
	if _, err := alice.GetDraft(ctx, connect.NewRequest(&alfv1.GetDraftRequest{Uri: "at://" + g.alice.DID.String() + "/app.bsky.feed.post/nope"})); code(err) != connect.CodeNotFound {
		t.Fatalf("unknown draft: %v, want not found", err)
	}
}

// One port serves Connect, gRPC (h2c) and gRPC-Web, gRPC health and the
// plain /health route.
func TestProtocolsOnOnePort(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	for name, opt := range map[string]connect.ClientOption{
		"connect":  connect.WithProtoJSON(),
		"grpc":     connect.WithGRPC(),
		"grpc-web": connect.WithGRPCWeb(),
	} {
		hc := http.DefaultClient
		if name == "grpc" {
			hc = h2c
		}
		c := alfv1connect.NewDraftServiceClient(hc, g.base, opt, signer(t, g.alice))
		if _, err := c.ListDrafts(ctx, connect.NewRequest(&alfv1.ListDraftsRequest{})); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	health := grpchealth.NewClient(h2c, g.base, connect.WithGRPC())
	res, err := health.Check(ctx, &grpchealth.CheckRequest{Service: alfv1connect.DraftServiceName})
	if err != nil || res.Status != grpchealth.StatusServing {
		t.Fatalf("grpc health: %v, %v", res, err)
	}
	stream := grpcreflect.NewClient(h2c, g.base, connect.WithGRPC()).NewStream(ctx)
	names, err := stream.ListServices()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	_, _ = stream.Close()
	if !slices.Contains(names, alfv1connect.DraftServiceName) || !slices.Contains(names, alfv1connect.AccountServiceName) {
		t.Fatalf("reflection lists %v", names)
	}
	resp, err := http.Get(g.base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got map[string]string
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got["status"] != "ok" || got["service"] != "alf" {
		t.Fatalf("/health = %d %s", resp.StatusCode, body)
	}
}

func h2cOnly() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}

func TestUpdateUnscheduleDraft(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	alice := g.drafts(t, g.alice)
	created, err := alice.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "first")}))
	if err != nil {
		t.Fatal(err)
	}
	uri := created.Msg.Draft.Uri
	at := timestamppb.New(time.Now().Add(time.Hour).Truncate(time.Millisecond))
	up, err := alice.UpdateDraft(ctx, connect.NewRequest(&alfv1.UpdateDraftRequest{Uri: uri, Record: post(t, "second"), ScheduledAt: at}))
	if err != nil {
		t.Fatal(err)
	}
	d := up.Msg.Draft
	if d.Record.Fields["text"].GetStringValue() != "second" || d.Status != alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED ||
		!d.ScheduledAt.AsTime().Equal(at.AsTime()) || d.Cid == created.Msg.Draft.Cid {
		t.Fatalf("after UpdateDraft: %v", d)
	}
	if _, err := alice.UpdateDraft(ctx, connect.NewRequest(&alfv1.UpdateDraftRequest{Uri: uri})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("empty update: %v, want invalid argument", err)
	}
	float, _ := structpb.NewStruct(map[string]any{"$type": "app.bsky.feed.post", "n": 0.5})
	if _, err := alice.UpdateDraft(ctx, connect.NewRequest(&alfv1.UpdateDraftRequest{Uri: uri, Record: float})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("invalid record: %v, want invalid argument", err)
	}
	un, err := alice.UnscheduleDraft(ctx, connect.NewRequest(&alfv1.UnscheduleDraftRequest{Uri: uri}))
	if err != nil || un.Msg.Draft.Status != alfv1.DraftStatus_DRAFT_STATUS_DRAFT || un.Msg.Draft.ScheduledAt != nil {
		t.Fatalf("UnscheduleDraft: %v, %v", un, err)
	}
	if _, err := alice.RetryDraft(ctx, connect.NewRequest(&alfv1.RetryDraftRequest{Uri: uri})); code(err) != connect.CodeFailedPrecondition {
		t.Fatalf("retrying a draft that did not fail: %v, want failed precondition", err)
	}
}

// Publishing for an account that never connected a session fails at once
// with a reason a person can act on.
func TestPublishWithoutSessionFails(t *testing.T) {
	t.Parallel()
	g := startNode(t, node.All)
	ctx := context.Background()
	alice := g.drafts(t, g.alice)
	created, err := alice.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "x")}))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := alice.PublishDraft(ctx, connect.NewRequest(&alfv1.PublishDraftRequest{Uri: created.Msg.Draft.Uri}))
	if err != nil {
		t.Fatal(err)
	}
	if d := pub.Msg.Draft; d.Status != alfv1.DraftStatus_DRAFT_STATUS_FAILED || !strings.HasPrefix(d.FailureReason, "no_authorization") {
		t.Fatalf("publish without a session: %s %q, want failed no_authorization", d.Status, d.FailureReason)
	}
}

// failDraft records a failed publish attempt of uri in the log, as a
// publisher would (the node under test runs none, so nothing moves on).
func (g *gateway) failDraft(t *testing.T, uri string) {
	t.Helper()
	ctx := context.Background()
	view, store := g.node.View(), g.node.Store()
	d, ok := view.DraftByURI(uri)
	if !ok {
		t.Fatalf("no draft %s", uri)
	}
	subject := events.DraftSubject(d.DID, d.ID)
	claim, err := store.Append(ctx, subject, d.Version, events.New("test", time.Now(), &eventsv1.DraftPublishing{
		DraftId: d.ID, Attempt: d.Attempts + 1, WriteTime: timestamppb.Now(), DueVersion: d.Version,
	}))
	if err != nil {
		t.Fatal(err)
	}
	seq, err := store.Append(ctx, subject, claim, events.New("test", time.Now(), &eventsv1.DraftFailed{DraftId: d.ID, Attempt: d.Attempts + 1, Reason: "InvalidRequest: nope"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := view.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
}

// A failed draft can be retried: it gets a fresh set of attempts.
func TestRetryDraftAfterFailure(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	alice := g.drafts(t, g.alice)
	created, err := alice.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "x")}))
	if err != nil {
		t.Fatal(err)
	}
	uri := created.Msg.Draft.Uri
	g.failDraft(t, uri)
	re, err := alice.RetryDraft(ctx, connect.NewRequest(&alfv1.RetryDraftRequest{Uri: uri}))
	if err != nil {
		t.Fatal(err)
	}
	if d := re.Msg.Draft; d.Status != alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED || d.Attempts != 0 || d.FailureReason != "" {
		t.Fatalf("after RetryDraft: %s, %d attempts, %q", d.Status, d.Attempts, d.FailureReason)
	}
}

// A draft made with a trigger shows its URL to its owner only; POSTing the
// URL of a draft that ended answers 409, an unknown key 404.
func TestTriggerURLs(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	alice := g.drafts(t, g.alice)
	created, err := alice.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{Collection: "app.bsky.feed.post", Record: post(t, "t"), Trigger: true}))
	if err != nil {
		t.Fatal(err)
	}
	url := created.Msg.Draft.TriggerUrl
	const prefix = "https://alf.test/triggers/"
	if !strings.HasPrefix(url, prefix) || len(url)-len(prefix) < 26 {
		t.Fatalf("trigger URL %q: want %s<at least 128 bits>", url, prefix)
	}
	got, err := alice.GetDraft(ctx, connect.NewRequest(&alfv1.GetDraftRequest{Uri: created.Msg.Draft.Uri}))
	if err != nil || got.Msg.Draft.TriggerUrl != url {
		t.Fatalf("GetDraft trigger URL %q (%v), want %q", got.Msg.Draft.GetTriggerUrl(), err, url)
	}
	if _, err := alice.CancelDraft(ctx, connect.NewRequest(&alfv1.CancelDraftRequest{Uri: created.Msg.Draft.Uri})); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimPrefix(url, prefix)
	for _, tt := range []struct {
		key    string
		status int
		name   string
	}{
		{key, http.StatusConflict, "TriggerAlreadyFired"},
		{"nosuchkey", http.StatusNotFound, "NotFound"},
	} {
		resp, err := http.Post(g.base+"/triggers/"+tt.key, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || body["error"] != tt.name {
			t.Errorf("POST trigger %q: %d %v, want %d %s", tt.key, resp.StatusCode, body, tt.status, tt.name)
		}
	}
}

// Connect clients keep blobs too (parity with POST /blob).
func TestUploadBlobOverConnect(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	alice := g.drafts(t, g.alice)
	res, err := alice.UploadBlob(ctx, connect.NewRequest(&alfv1.UploadBlobRequest{MimeType: "image/png", Data: []byte{9, 9, 9}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.Cid != "bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq" || res.Msg.Size != 3 || res.Msg.MimeType != "image/png" {
		t.Fatalf("UploadBlob = %v", res.Msg)
	}
	big := make([]byte, 1_000_001)
	if _, err := alice.UploadBlob(ctx, connect.NewRequest(&alfv1.UploadBlobRequest{MimeType: "image/jpeg", Data: big})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("oversize image: %v, want invalid argument", err)
	}
}

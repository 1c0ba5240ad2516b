package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Fault injection on the publish path through alf's real PDS client: the
// node writes over HTTP to a fakePDS that answers with scripted faults, so
// what is tested is how real HTTP answers are classified and acted on. The
// node runs on a fake clock, moved past backoffs and rate-limit resets.

const (
	statusPublished  = alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED
	statusScheduled  = alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED
	statusFailed     = alfv1.DraftStatus_DRAFT_STATUS_FAILED
	statusPublishing = alfv1.DraftStatus_DRAFT_STATUS_PUBLISHING
)

// A write whose outcome is lost or refused for a while is retried until it
// is on the PDS once: 5xx before the write, 5xx after it (read back at once,
// or by the retry when the read-back fails too), and a PDS that never
// answers (the write times out).
func TestFaultRetriedWritesLeaveOneRecord(t *testing.T) {
	t.Parallel()
	internal := failWith(500, "InternalServerError", "Internal Server Error")
	cases := []struct {
		name         string
		writes       []fault
		reads        []fault
		image        bool          // the post embeds an image alf holds
		writeTimeout time.Duration // 0: the publisher's default
		attempts     uint32        // the attempt that publishes
		requests     int           // record writes reaching the PDS
		readBacks    int           // getRecord calls
		firstReason  string        // in the failure reason after attempt 1
	}{
		{
			name:   "500 twice before the write, then success",
			writes: []fault{internal, internal}, image: true,
			attempts: 3, requests: 3, readBacks: 2,
			firstReason: "InternalServerError: Internal Server Error",
		},
		{
			name:     "500 after the write, read back at once",
			writes:   []fault{failAfterWrite(500, "InternalServerError", "Internal Server Error")},
			attempts: 1, requests: 1, readBacks: 1,
		},
		{
			name:     "502 after the write and a failed read-back, the retry reads back",
			writes:   []fault{failAfterWrite(502, "UpstreamFailure", "Upstream Failure")},
			reads:    []fault{failWith(503, "Unavailable", "Service Unavailable")},
			attempts: 2, requests: 2, readBacks: 2,
			firstReason: "UpstreamFailure: Upstream Failure",
		},
		{
			name:   "hanging PDS, the write times out and is retried",
			writes: []fault{hang()}, writeTimeout: 300 * time.Millisecond,
			attempts: 2, requests: 2, readBacks: 1,
			firstReason: "context deadline exceeded",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newFaultEnv(t, func(o *node.Options) { o.Publisher.WriteTimeout = tc.writeTimeout })
			env.pds.failWrites(tc.writes...)
			env.pds.failReads(tc.reads...)
			req := textPost(t, "fault: "+tc.name)
			var blobCID string
			if tc.image {
				blobCID, req = env.imagePost(t, "fault: "+tc.name)
			}
			d := env.publishDue(t, req)

			for attempt := uint32(1); ; attempt++ {
				d = env.awaitAttempt(t, d.Uri, attempt)
				if d.Status == statusPublished {
					break
				}
				if d.Status != statusScheduled || attempt >= tc.attempts {
					t.Fatalf("after attempt %d: %s (%q), want published at attempt %d", attempt, d.Status, d.FailureReason, tc.attempts)
				}
				if attempt == 1 && !strings.Contains(d.FailureReason, tc.firstReason) {
					t.Errorf("failure reason after attempt 1 = %q, want it to contain %q", d.FailureReason, tc.firstReason)
				}
				env.clock.Set(d.ScheduledAt.AsTime()) // the retry time
			}

			if d.Attempts != tc.attempts {
				t.Errorf("published after %d attempts, want %d", d.Attempts, tc.attempts)
			}
			if got := env.pds.writeCount(); got != tc.requests {
				t.Errorf("%d record writes reached the PDS, want %d", got, tc.requests)
			}
			if got := env.pds.readCount(); got != tc.readBacks {
				t.Errorf("%d read-backs, want %d", got, tc.readBacks)
			}
			env.assertOneRecord(t, d)
			if counts := eventCounts(t, env.node.Store(), env.id.DID.String()); counts["DraftPublishing"] != int(tc.attempts) ||
				counts["DraftAttemptFailed"] != int(tc.attempts)-1 || counts["DraftPublished"] != 1 {
				t.Errorf("events %v, want %d claims, %d retries, 1 DraftPublished", counts, tc.attempts, tc.attempts-1)
			}
			if tc.image && !env.pds.hasBlob(blobCID) {
				t.Errorf("image %s was not uploaded to the PDS", blobCID)
			}
		})
	}
}

// A 429 with a ratelimit-reset later than the first backoff: the write is
// not tried again before the reset, and is at the reset.
func TestFaultRateLimitWaitsForReset(t *testing.T) {
	t.Parallel()
	env := newFaultEnv(t, nil)
	const resetIn = 90 * time.Second // past the 1-minute backoff
	env.pds.failWrites(rateLimited(resetIn))
	d := env.publishDue(t, textPost(t, "rate limited"))

	d = env.awaitAttempt(t, d.Uri, 1)
	if d.Status != statusScheduled {
		t.Fatalf("after a 429: %s (%q), want scheduled for a retry", d.Status, d.FailureReason)
	}
	first := env.pds.writeLog()[0]
	reset := time.Unix(first.At.Add(resetIn).Unix(), 0)
	if got := d.ScheduledAt.AsTime(); !got.Equal(reset) {
		t.Fatalf("retry at %s, want the PDS's reset %s", got, reset)
	}
	if want := "RateLimitExceeded: Rate Limit Exceeded"; !strings.Contains(d.FailureReason, want) {
		t.Errorf("failure reason %q, want it to contain %q", d.FailureReason, want)
	}

	env.clock.Set(reset.Add(-time.Millisecond))
	env.awaitHeld(t)
	time.Sleep(200 * time.Millisecond) // a publisher that ignored the hold would write now
	if got := env.pds.writeCount(); got != 1 {
		t.Fatalf("%d writes before the reset, want 1", got)
	}

	env.clock.Set(reset)
	d = env.awaitAttempt(t, d.Uri, 2)
	if d.Status != statusPublished {
		t.Fatalf("after the reset: %s (%q), want published", d.Status, d.FailureReason)
	}
	log := env.pds.writeLog()
	if len(log) != 2 || log[1].At.Before(reset) {
		t.Fatalf("writes %+v, want a second one at or after %s", log, reset)
	}
	env.assertOneRecord(t, d)
}

// A 400 refusal fails the draft at once with the PDS's message; nothing is
// retried or read back.
func TestFaultRefusedWriteFailsAtOnce(t *testing.T) {
	t.Parallel()
	env := newFaultEnv(t, nil)
	const message = "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
	env.pds.failWrites(failWith(400, "InvalidRequest", message))
	d := env.publishDue(t, textPost(t, "refused"))

	d = env.awaitAttempt(t, d.Uri, 1)
	if d.Status != statusFailed {
		t.Fatalf("after a 400: %s, want failed", d.Status)
	}
	if want := "InvalidRequest: " + message; d.FailureReason != want {
		t.Errorf("failure reason %q, want it to end with %q", d.FailureReason, want)
	}
	env.clock.Advance(time.Hour) // past every backoff
	time.Sleep(200 * time.Millisecond)
	if got := env.pds.writeCount(); got != 1 {
		t.Errorf("%d write attempts, want 1", got)
	}
	if got := env.pds.readCount(); got != 0 {
		t.Errorf("%d read-backs of a refused write, want 0", got)
	}
	if got := env.pds.stored(); len(got) != 0 {
		t.Errorf("records on the PDS: %v, want none", got)
	}
	counts := eventCounts(t, env.node.Store(), env.id.DID.String())
	if counts["DraftPublishing"] != 1 || counts["DraftFailed"] != 1 || counts["DraftAttemptFailed"] != 0 {
		t.Errorf("events %v, want 1 claim and 1 DraftFailed, no retry", counts)
	}
}

// faultEnv is an all-in-one node on a fake clock whose account has
// connected an app password for a fakePDS through the AccountService.
type faultEnv struct {
	clock  *clock.Fake
	pds    *fakePDS
	node   *node.Node
	id     *authtest.Identity
	drafts alfv1connect.DraftServiceClient
}

func newFaultEnv(t *testing.T, tune func(*node.Options)) *faultEnv {
	t.Helper()
	id := authtest.NewIdentity(t)
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	fake := newFakePDS(t, id, clk)
	n := startNode(t, connectNATS(t, natsServer(t)), fake.directory(id), node.All, func(o *node.Options) {
		o.Clock = clk
		if tune != nil {
			tune(o)
		}
	})
	env := &faultEnv{clock: clk, pds: fake, node: n, id: id, drafts: testDrafts(t, n, id)}
	env.connect(t)
	return env
}

// connect gives alf the account's app password through the gateway.
func (e *faultEnv) connect(t *testing.T) {
	t.Helper()
	sign := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", e.id.Header(t, serviceDID, auth.ProcedureLXM(req.Spec().Procedure)))
			return next(ctx, req)
		}
	})
	accounts := alfv1connect.NewAccountServiceClient(http.DefaultClient, "http://"+e.node.Addr(), connect.WithInterceptors(sign))
	res, err := accounts.ConnectAppPassword(context.Background(), connect.NewRequest(&alfv1.ConnectAppPasswordRequest{
		Identifier: e.pds.handle, AppPassword: e.pds.appPassword,
	}))
	if err != nil {
		t.Fatalf("ConnectAppPassword: %v", err)
	}
	if a := res.Msg.Authorization; !a.Authorized || a.Did != e.id.DID.String() || a.PdsHost != e.pds.URL() {
		t.Fatalf("authorization = %v, want %s authorized at %s", a, e.id.DID, e.pds.URL())
	}
}

// publishDue creates req due a second from now and moves the clock there.
func (e *faultEnv) publishDue(t *testing.T, req *alfv1.CreateDraftRequest) *alfv1.Draft {
	t.Helper()
	req.ScheduledAt = timestamppb.New(e.clock.Now().Add(time.Second))
	d := createDraft(t, e.drafts, req)
	e.clock.Advance(time.Second)
	return d
}

// awaitAttempt waits for the outcome of the draft's attempt n.
func (e *faultEnv) awaitAttempt(t *testing.T, uri string, n uint32) *alfv1.Draft {
	t.Helper()
	var d *alfv1.Draft
	eventually(t, 20*time.Second, fmt.Sprintf("the outcome of attempt %d of %s", n, uri), func() bool {
		d = getDraft(t, e.drafts, uri)
		return d.Attempts == n && d.Status != statusPublishing
	})
	return d
}

// awaitHeld waits until a DraftDue has been delivered to the publisher and
// is held there for its instant (delivered, not acked).
func (e *faultEnv) awaitHeld(t *testing.T) {
	t.Helper()
	cons, err := e.node.Store().JetStream().Consumer(context.Background(), events.StreamDue, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a DraftDue held by the publisher", func() bool {
		info, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.NumAckPending == 1 && info.NumPending == 0
	})
}

// assertOneRecord checks that the PDS holds exactly the draft's record, as
// the draft says it was published: the CID it reports, and the createdAt of
// the write that stored it.
func (e *faultEnv) assertOneRecord(t *testing.T, d *alfv1.Draft) {
	t.Helper()
	recs := e.pds.stored()
	key := d.Collection + "/" + d.Rkey
	rec, ok := recs[key]
	if len(recs) != 1 || !ok {
		t.Fatalf("records on the PDS: %v, want only %s", keys(recs), key)
	}
	var applied []writeRequest
	for _, w := range e.pds.writeLog() {
		if w.Applied {
			applied = append(applied, w)
		}
	}
	if len(applied) != 1 {
		t.Fatalf("%d writes applied, want 1", len(applied))
	}
	var value struct {
		CreatedAt time.Time `json:"createdAt"`
	}
	if err := json.Unmarshal(rec, &value); err != nil {
		t.Fatal(err)
	}
	if !value.CreatedAt.Equal(applied[0].At) {
		t.Errorf("record createdAt %s, want the time of the write that stored it, %s", value.CreatedAt, applied[0].At)
	}
	if cid := e.pds.cidOf(t, key); d.PublishedCid != cid {
		t.Errorf("draft published_cid %q, record CID %q", d.PublishedCid, cid)
	}
}

// imagePost uploads an image to alf and returns its CID and a post
// embedding it.
func (e *faultEnv) imagePost(t *testing.T, text string) (string, *alfv1.CreateDraftRequest) {
	t.Helper()
	image := []byte(fmt.Sprintf("\x89PNG fault image %d", time.Now().UnixNano()))
	req, err := http.NewRequest("POST", "http://"+e.node.Addr()+"/blob", bytes.NewReader(image))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", e.id.Header(t, serviceDID, "com.atproto.repo.uploadBlob"))
	req.Header.Set("Content-Type", "image/png")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var up struct {
		CID  string `json:"cid"`
		Size int64  `json:"size"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&up); err != nil || resp.StatusCode != 200 || up.CID == "" {
		t.Fatalf("upload to alf: %d %+v %v", resp.StatusCode, up, err)
	}
	draft := textPost(t, text)
	draft.Record = mustStruct(t, map[string]any{
		"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z",
		"embed": map[string]any{"$type": "app.bsky.embed.images", "images": []any{map[string]any{
			"alt":   "a fault-injection image",
			"image": map[string]any{"$type": "blob", "ref": map[string]any{"$link": up.CID}, "mimeType": "image/png", "size": up.Size},
		}}},
	})
	return up.CID, draft
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

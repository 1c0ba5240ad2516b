package node_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// testDrafts is a DraftService client signing its calls as id.
func testDrafts(t *testing.T, n *node.Node, id *authtest.Identity) alfv1connect.DraftServiceClient {
	t.Helper()
	sign := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", id.Header(t, serviceDID, auth.ProcedureLXM(req.Spec().Procedure)))
			return next(ctx, req)
		}
	})
	return alfv1connect.NewDraftServiceClient(http.DefaultClient, "http://"+n.Addr(), connect.WithInterceptors(sign))
}

func textPost(t *testing.T, text string) *alfv1.CreateDraftRequest {
	return &alfv1.CreateDraftRequest{
		Collection: "app.bsky.feed.post",
		Record:     mustStruct(t, map[string]any{"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}),
	}
}

func dueMessages(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), events.StreamDue)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// Two timers side by side, and a third started after the due instant
// (catch-up), emit one DraftDue per due draft.
func TestTimersSideBySideEmitOneDue(t *testing.T) {
	t.Parallel()
	id := authtest.NewIdentity(t)
	dir := authtest.Directory(id)
	srv := natsServer(t)
	nc := connectNATS(t, srv)
	gw := startNode(t, nc, dir, node.Roles{Gateway: true}, nil)
	startNode(t, connectNATS(t, srv), dir, node.Roles{Timer: true}, nil)
	startNode(t, connectNATS(t, srv), dir, node.Roles{Timer: true}, nil)

	drafts := testDrafts(t, gw, id)
	const count = 50
	due := time.Now().Add(700 * time.Millisecond)
	for i := range count {
		req := textPost(t, "due together")
		req.Rkey = syntaxTID(i)
		req.ScheduledAt = timestamppb.New(due)
		createDraft(t, drafts, req)
	}
	eventually(t, 10*time.Second, "every draft emitted", func() bool { return dueMessages(t, nc) >= count })
	startNode(t, connectNATS(t, srv), dir, node.Roles{Timer: true}, nil) // catches up on start
	time.Sleep(500 * time.Millisecond)
	if got := dueMessages(t, nc); got != count {
		t.Fatalf("ALF_DUE holds %d messages for %d due drafts, want one each", got, count)
	}
}

// Everything stopped, the NATS server restarted from its files: a new node
// rebuilds the same state from the log.
func TestRestartRebuildsStateFromLog(t *testing.T) {
	t.Parallel()
	id := authtest.NewIdentity(t)
	dirID := authtest.Directory(id)
	store := t.TempDir()

	srv := natsServerAt(t, store)
	nc := connectNATS(t, srv)
	n := startNode(t, nc, dirID, node.Roles{Gateway: true, Timer: true}, nil)
	drafts := testDrafts(t, n, id)
	ctx := context.Background()

	later := timestamppb.New(time.Now().Add(time.Hour))
	createDraft(t, drafts, textPost(t, "unscheduled"))
	sched := textPost(t, "scheduled")
	sched.ScheduledAt = later
	createDraft(t, drafts, sched)
	moved := createDraft(t, drafts, textPost(t, "moved"))
	if _, err := drafts.ScheduleDraft(ctx, connect.NewRequest(&alfv1.ScheduleDraftRequest{Uri: moved.Uri, ScheduledAt: later})); err != nil {
		t.Fatal(err)
	}
	gone := createDraft(t, drafts, textPost(t, "cancelled"))
	if _, err := drafts.CancelDraft(ctx, connect.NewRequest(&alfv1.CancelDraftRequest{Uri: gone.Uri})); err != nil {
		t.Fatal(err)
	}
	before := listAll(t, drafts)
	if len(before) != 4 {
		t.Fatalf("listed %d drafts, want 4", len(before))
	}

	n.Stop()
	nc.Close()
	srv.Shutdown()

	srv = natsServerAt(t, store)
	n = startNode(t, connectNATS(t, srv), dirID, node.Roles{Gateway: true, Timer: true}, nil)
	after := listAll(t, testDrafts(t, n, id))
	if len(after) != len(before) {
		t.Fatalf("after restart %d drafts, before %d", len(after), len(before))
	}
	for i := range before {
		if !proto.Equal(before[i], after[i]) {
			t.Errorf("draft %d differs after restart:\nbefore %v\nafter  %v", i, before[i], after[i])
		}
	}
}

func listAll(t *testing.T, drafts alfv1connect.DraftServiceClient) []*alfv1.Draft {
	t.Helper()
	res, err := drafts.ListDrafts(context.Background(), connect.NewRequest(&alfv1.ListDraftsRequest{PageSize: 100}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Drafts
}

// syntaxTID is a distinct valid record key per i.
func syntaxTID(i int) string {
	return syntax.NewTID(time.Now().UnixMicro()+int64(i), 0).String()
}

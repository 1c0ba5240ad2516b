package bench_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	loneRuns = flag.Int("lone.runs", 50, "drafts BenchmarkLoneDraft publishes, one after the other")
	loneLead = flag.Duration("lone.lead", 100*time.Millisecond, "how far ahead of its creation each lone draft is due")
)

// BenchmarkLoneDraft: one draft due at T with nothing else going on, created
// with CreateDraft shortly before T; the all-in-one node publishes it to a
// fake PDS that answers at once. Repeated -lone.runs times, each after the
// previous draft shows published. It reports the lateness of the write
// (arrival at the PDS − T).
func BenchmarkLoneDraft(b *testing.B) {
	ids := identities(b, 1)
	a := startAlf(b, nil, ids...)
	drafts := draftClient(httpClient(1), a.node.Addr(), bearer(createToken(b, ids[0])))
	var late, claimed []time.Duration
	for b.Loop() {
		l, c, err := loneDrafts(a, drafts, *loneRuns, *loneLead)
		if err != nil {
			b.Fatal(err)
		}
		late, claimed = append(late, l...), append(claimed, c...)
	}
	s, c := summarize(late), summarize(claimed)
	b.ReportMetric(0, "ns/op")
	s.report(b, "late")
	c.report(b, "claim")
	b.Logf("lone draft: %d drafts due one at a time: late %s; claimed %s", s.n, s, c)
}

// loneDrafts publishes runs drafts one after the other, each due lead after
// its creation, and returns how late each reached the PDS and how late a
// publisher claimed it.
func loneDrafts(a *alf, drafts alfv1connect.DraftServiceClient, runs int, lead time.Duration) (late, claimed []time.Duration, err error) {
	rec, err := structpb.NewStruct(map[string]any{
		"$type": "app.bsky.feed.post", "text": "alone", "createdAt": "2026-01-01T00:00:00.000Z",
	})
	if err != nil {
		return nil, nil, err
	}
	a.fake.Reset()
	from := a.node.View().Seq() + 1
	dueAt := make(map[string]time.Time, runs)
	for i := range runs {
		ctx, cancel := context.WithTimeout(context.Background(), lead+30*time.Second)
		due := time.Now().Add(lead)
		id, l, err := loneDraft(ctx, a, drafts, &alfv1.CreateDraftRequest{
			Collection: "app.bsky.feed.post", Record: rec, ScheduledAt: timestamppb.New(due),
		}, i+1)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("lone draft %d: %w", i, err)
		}
		late, dueAt[id] = append(late, l), due
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	claimedAt, err := claims(ctx, a.node.Store(), from)
	if err != nil {
		return nil, nil, err
	}
	for id, due := range dueAt {
		claimed = append(claimed, claimedAt[id].Sub(due))
	}
	return late, claimed, nil
}

// loneDraft creates req, waits for the PDS's writes-th write and for the
// draft to show published, and returns the draft's ID and how late the
// write arrived.
func loneDraft(ctx context.Context, a *alf, drafts alfv1connect.DraftServiceClient, req *alfv1.CreateDraftRequest, writes int) (string, time.Duration, error) {
	res, err := drafts.CreateDraft(ctx, connect.NewRequest(req))
	if err != nil {
		return "", 0, err
	}
	if err := a.fake.WaitWrites(ctx, writes); err != nil {
		return "", 0, err
	}
	w := a.fake.Writes()[writes-1]
	if got := "at://" + w.DID.String() + "/" + w.Collection + "/" + w.Rkey; got != res.Msg.Draft.Uri || w.Err != "" {
		return "", 0, fmt.Errorf("the PDS received %s (%q), want %s", got, w.Err, res.Msg.Draft.Uri)
	}
	d, _ := a.node.View().DraftByURI(res.Msg.Draft.Uri)
	if err := awaitStatus(ctx, a.node.View(), []string{d.ID}, projection.StatusPublished); err != nil {
		return "", 0, fmt.Errorf("%w (events: %s; PDS writes: %d)", err, history(a.node.Store(), d.DID, d.ID), a.fake.Len())
	}
	return d.ID, w.At.Sub(req.ScheduledAt.AsTime()), nil
}

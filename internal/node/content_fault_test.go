package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/content"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
)

// contentSource answers the statuses of script in turn (200 after it ends)
// with a post whose text is text.
type contentSource struct {
	srv    *httptest.Server
	calls  atomic.Int32
	script []int
}

func newContentSource(t *testing.T, text string, script ...int) *contentSource {
	t.Helper()
	c := &contentSource{script: script}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(c.calls.Add(1))
		if n <= len(c.script) && c.script[n-1] != 200 {
			w.WriteHeader(c.script[n-1])
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00Z"})
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (e *faultEnv) schedules(t *testing.T) alfv1connect.ScheduleServiceClient {
	sign := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", e.id.Header(t, serviceDID, auth.ProcedureLXM(req.Spec().Procedure)))
			return next(ctx, req)
		}
	})
	return alfv1connect.NewScheduleServiceClient(http.DefaultClient, "http://"+e.node.Addr(), connect.WithInterceptors(sign))
}

// dynamicSchedule creates a daily schedule fetching from src, and returns
// it with its first occurrence due.
func (e *faultEnv) dynamicSchedule(t *testing.T, src *contentSource) *alfv1.Schedule {
	t.Helper()
	res, err := e.schedules(t).CreateSchedule(context.Background(), connect.NewRequest(&alfv1.CreateScheduleRequest{
		Collection: "app.bsky.feed.post",
		Rule:       mustStruct(t, map[string]any{"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0"}),
		Timezone:   "UTC",
		ContentUrl: src.srv.URL + "/today?token=s3cret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Msg.Schedule
	e.clock.Set(s.NextOccurrenceAt.AsTime())
	return s
}

func withContent(o *node.Options) { o.Content = content.New(content.Config{AllowPrivate: true}) }

// A content URL that fails with a 503 is retried like a failed PDS write;
// the record fetched at last is fixed in the log before the write, and the
// PDS gets one record.
func TestFaultContentRetried(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, withContent)
	src := newContentSource(t, "fetched on the second try", http.StatusServiceUnavailable)
	s := e.dynamicSchedule(t, src)
	first := e.awaitAttempt(t, s.NextDraftUri, 1)
	if first.Status != alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED || !strings.HasPrefix(first.FailureReason, "content_url_fetch_failed: ") ||
		!strings.Contains(first.FailureReason, "503") || strings.Contains(first.FailureReason, "s3cret") {
		t.Fatalf("after a 503: %s %q, want a retry naming the 503 and not the URL's secret", first.Status, first.FailureReason)
	}
	e.clock.Advance(time.Minute)
	d := e.awaitAttempt(t, s.NextDraftUri, 2)
	if d.Status != alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED {
		t.Fatalf("second attempt: %s %q", d.Status, d.FailureReason)
	}
	e.assertOneRecord(t, d)
	if got := e.pds.stored()[d.Collection+"/"+d.Rkey]; !strings.Contains(string(got), "fetched on the second try") {
		t.Fatalf("record on the PDS: %s", got)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("content URL fetched %d times, want 2", n)
	}
	if n := countEvents(t, e.node.Store(), "DraftContentFetched"); n != 1 {
		t.Fatalf("%d DraftContentFetched events, want 1", n)
	}
}

// A content URL that answers 404 fails the occurrence at once (retrying
// cannot help); the schedule shows the failure and moves on to the next.
func TestFaultContentRefusedMovesOn(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, withContent)
	src := newContentSource(t, "never", http.StatusNotFound)
	s := e.dynamicSchedule(t, src)
	d := e.awaitAttempt(t, s.NextDraftUri, 1)
	if d.Status != alfv1.DraftStatus_DRAFT_STATUS_FAILED || !strings.Contains(d.FailureReason, "404") {
		t.Fatalf("after a 404: %s %q, want failed", d.Status, d.FailureReason)
	}
	var got *alfv1.Schedule
	eventually(t, 10*time.Second, "the schedule to move on", func() bool {
		res, err := e.schedules(t).GetSchedule(context.Background(), connect.NewRequest(&alfv1.GetScheduleRequest{Id: s.Id}))
		if err != nil {
			t.Fatal(err)
		}
		got = res.Msg.Schedule
		return got.NextDraftUri != "" && got.NextDraftUri != s.NextDraftUri
	})
	if got.Status != alfv1.ScheduleStatus_SCHEDULE_STATUS_ACTIVE || !strings.Contains(got.LastFailureReason, "404") ||
		!got.NextOccurrenceAt.AsTime().Equal(s.NextOccurrenceAt.AsTime().Add(24*time.Hour)) {
		t.Fatalf("schedule after a failed occurrence: %v", got)
	}
	if n := len(e.pds.stored()); n != 0 {
		t.Fatalf("%d records on the PDS, want none", n)
	}
}

func countEvents(t *testing.T, store *events.Store, typ string) int {
	t.Helper()
	n := 0
	err := store.Replay(context.Background(), 1, nil, func(ev events.Event) error {
		if ev.Type() == typ {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

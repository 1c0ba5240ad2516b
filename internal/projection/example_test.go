package projection_test

import (
	"context"
	"fmt"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func ExampleFold() {
	uri := "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l2s5xxv2ze2c"
	id := events.DraftID(uri, 1)
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	history := []events.Event{
		{Seq: 1, Envelope: events.New("did:plc:ewvi7nxzyoun6zhxrhs64oiz", at, &eventsv1.DraftCreated{
			DraftId: id, Uri: uri, Lifecycle: 1, ScheduledAt: timestamppb.New(at.Add(time.Hour)),
		})},
		{Seq: 7, Envelope: events.New("alf:publisher", at.Add(time.Hour), &eventsv1.DraftPublishing{
			DraftId: id, Attempt: 1, WriteTime: timestamppb.New(at.Add(time.Hour)),
		})},
		{Seq: 8, Envelope: events.New("alf:publisher", at.Add(time.Hour), &eventsv1.DraftAttemptFailed{
			DraftId: id, Attempt: 1, Reason: "pds unavailable", RetryAt: timestamppb.New(at.Add(time.Hour + time.Minute)),
		})},
	}
	var d projection.Draft
	for _, ev := range history {
		d = projection.Fold(d, ev)
		fmt.Printf("%d %s due=%s reason=%q\n", d.Version, d.Status, d.DueAt.Format(time.TimeOnly), d.FailureReason)
	}
	// Output:
	// 1 scheduled due=13:00:00 reason=""
	// 7 publishing due=00:00:00 reason=""
	// 8 scheduled due=13:01:00 reason="pds unavailable"
}

func ExampleView() {
	view := projection.NewView()
	view.Observe(func(d projection.Draft) { fmt.Println("observed", d.Rkey, d.Status) })

	did := "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, rkey := range []string{"a", "b", "c"} {
		uri := "at://" + did + "/app.bsky.feed.post/" + rkey
		view.Apply(events.Event{Seq: uint64(i + 1), Envelope: events.New(did, at.Add(time.Duration(i)*time.Minute),
			&eventsv1.DraftCreated{DraftId: events.DraftID(uri, 1), Uri: uri, Did: did, Rkey: rkey, Lifecycle: 1})})
	}
	// A command handler waits until the view shows its own append.
	if err := view.WaitFor(context.Background(), 3); err != nil {
		panic(err)
	}
	page, next, _ := view.List(did, projection.Query{Limit: 2})
	for _, d := range page {
		fmt.Println("page 1:", d.Rkey)
	}
	page, _, _ = view.List(did, projection.Query{Limit: 2, Cursor: next})
	for _, d := range page {
		fmt.Println("page 2:", d.Rkey)
	}
	fmt.Println("active:", view.ActiveCount(did))
	// Output:
	// observed a draft
	// observed b draft
	// observed c draft
	// page 1: c
	// page 1: b
	// page 2: a
	// active: 3
}

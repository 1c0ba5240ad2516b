package publisher

import (
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A fresh claim waits when the account's budget is spent; a takeover never
// waits.
func TestOverBudget(t *testing.T) {
	t.Parallel()
	const did = "did:plc:busy"
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	view := projection.NewView()
	seq := uint64(0)
	publishAt := func(i int, at time.Time) {
		id := "d" + string(rune('a'+i))
		for _, e := range []events.Event{
			{Envelope: events.New("t", at, &eventsv1.DraftCreated{DraftId: id, Uri: "at://" + did + "/app.bsky.feed.post/" + id, Did: did, Action: eventsv1.Action_ACTION_CREATE, Lifecycle: 1})},
			{Envelope: events.New("t", at, &eventsv1.DraftPublishing{DraftId: id, Attempt: 1, WriteTime: timestamppb.New(at)})},
			{Envelope: events.New("t", at, &eventsv1.DraftPublished{DraftId: id})},
		} {
			seq++
			e.Seq = seq
			view.Apply(e)
		}
	}
	publishAt(0, start)
	publishAt(1, start.Add(time.Minute))
	fake := clock.NewFake(start.Add(2 * time.Minute))
	p := New(Config{View: view, Clock: fake, Budgets: []projection.Budget{{Points: 7, Window: time.Hour}}})

	fresh := projection.Draft{DID: did, Status: projection.StatusScheduled, Action: eventsv1.Action_ACTION_CREATE}
	if got := p.overBudget(fresh); got != 58*time.Minute {
		t.Fatalf("a third create (9 points > 7) waits %v, want until the first leaves the hour (58m)", got)
	}
	del := fresh
	del.Action = eventsv1.Action_ACTION_DELETE
	if got := p.overBudget(del); got != 0 {
		t.Fatalf("a delete (1 point) fits, but waits %v", got)
	}
	takeover := fresh
	takeover.Status = projection.StatusPublishing
	if got := p.overBudget(takeover); got != 0 {
		t.Fatalf("a takeover waits %v", got)
	}
}

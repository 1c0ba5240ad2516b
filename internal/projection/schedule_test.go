package projection_test

import (
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The schedule fold: queueing moves Pending, pause drops it (to be
// cancelled), resume moves the cursor to the resume, ends of drafts count
// fires and failures, and an errored schedule says why.
func TestFoldSchedule(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	v := projection.NewView()
	seq := uint64(0)
	apply := func(at time.Time, ev proto.Message) {
		seq++
		v.Apply(events.Event{Seq: seq, Envelope: events.New("test", at, ev)})
	}
	const id, did = "s1", "did:plc:fold"
	occ := func(day int) time.Time { return time.Date(2026, 3, day, 9, 0, 0, 0, time.UTC) }
	queue := func(draft string, day int) {
		apply(t0, &eventsv1.ScheduleOccurrenceQueued{ScheduleId: id, DraftId: draft, Uri: "at://" + did + "/c.c.c/" + draft, At: timestamppb.New(occ(day)), Date: occ(day).Format(time.DateOnly)})
		apply(t0, &eventsv1.DraftCreated{DraftId: draft, Uri: "at://" + did + "/c.c.c/" + draft, Did: did, Collection: "c.c.c", Rkey: draft,
			ScheduledAt: timestamppb.New(occ(day)), Lifecycle: 1, Occurrence: &eventsv1.Occurrence{ScheduleId: id, At: timestamppb.New(occ(day))}})
	}
	apply(t0, &eventsv1.ScheduleCreated{ScheduleId: id, Did: did, Collection: "c.c.c", Rule: []byte(`{}`), Record: []byte(`{}`)})
	queue("d1", 1)
	apply(occ(1), &eventsv1.DraftPublished{DraftId: "d1"})
	s, _ := v.Schedule(id)
	if s.FireCount != 1 || !s.After().Equal(occ(1)) || !s.LastFiredAt.Equal(occ(1)) {
		t.Fatalf("after a publish: fired %d, after %s", s.FireCount, s.After())
	}
	queue("d2", 2)
	apply(occ(1), &eventsv1.DraftFailed{DraftId: "d2", Reason: "InvalidRequest: nope"})
	s, _ = v.Schedule(id)
	if s.LastFailure != "InvalidRequest: nope" || !s.LastFailureAt.Equal(occ(2)) || !s.After().Equal(occ(2)) {
		t.Fatalf("after a failure: %q at %s, after %s", s.LastFailure, s.LastFailureAt, s.After())
	}
	queue("d3", 3)
	apply(occ(2), &eventsv1.SchedulePaused{ScheduleId: id})
	s, _ = v.Schedule(id)
	if s.Status != projection.SchedulePaused || s.Pending != nil || s.Dropped != "d3" {
		t.Fatalf("after a pause: %s, pending %v, dropped %q", s.Status, s.Pending, s.Dropped)
	}
	apply(occ(2), &eventsv1.DraftCancelled{DraftId: "d3"})
	if s, _ = v.Schedule(id); !s.LastFailureAt.Equal(occ(2)) {
		t.Fatalf("a dropped occurrence's cancel counts as a failure: %s", s.LastFailureAt)
	}
	resumed := occ(5)
	apply(resumed, &eventsv1.ScheduleResumed{ScheduleId: id})
	if s, _ = v.Schedule(id); s.Status != projection.ScheduleActive || !s.After().Equal(resumed) {
		t.Fatalf("after resume: %s, after %s", s.Status, s.After())
	}
	apply(resumed, &eventsv1.ScheduleErrored{ScheduleId: id, Reason: "no free record key"})
	if s, _ = v.Schedule(id); s.Status != projection.ScheduleError || s.LastFailure != "no free record key" {
		t.Fatalf("errored: %s %q", s.Status, s.LastFailure)
	}
}

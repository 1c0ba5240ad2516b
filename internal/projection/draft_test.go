package projection_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
)

func TestFold(t *testing.T) {
	t.Parallel()
	c := created(alice, "p1", 1, nil)
	id := c.GetDraftId()
	cs := created(alice, "p1", 1, ptr(tN(60)))
	wt1, wt2 := tN(61), tN(75)

	// base is the state right after c at seq 1, tN(0).
	base := projection.Draft{
		ID: id, URI: c.GetUri(), DID: alice, Collection: "app.bsky.feed.post", Rkey: "p1",
		Action: eventsv1.Action_ACTION_CREATE, Record: record, CID: c.GetCid(), Lifecycle: 1,
		Status: projection.StatusDraft, CreatedAt: tN(0), UpdatedAt: tN(0), Version: 1,
	}
	// publishing is the state after c, scheduled for tN(60), claimed at tN(61).
	publishingHistory := []events.Event{
		ev(1, tN(0), c),
		ev(2, tN(1), &eventsv1.DraftScheduled{DraftId: id, ScheduledAt: ts(tN(60))}),
		ev(5, tN(61), &eventsv1.DraftPublishing{DraftId: id, Attempt: 1, WriteTime: ts(wt1), DueVersion: 2}),
	}
	publishing := base
	publishing.Status = projection.StatusPublishing
	publishing.ScheduledAt = tN(60)
	publishing.Attempts = 1
	publishing.Claim = &projection.Claim{Attempt: 1, WriteTime: wt1, DueVersion: 2, At: tN(61)}
	publishing.WriteTimes = []time.Time{wt1}
	publishing.UpdatedAt, publishing.Version = tN(61), 5

	with := func(history []events.Event, more ...events.Event) []events.Event {
		return append(slices.Clone(history), more...)
	}
	tests := []struct {
		name    string
		history []events.Event
		want    func(d projection.Draft) projection.Draft // from a copy of base
	}{
		{"created unscheduled", []events.Event{ev(1, tN(0), c)},
			func(d projection.Draft) projection.Draft { return d }},
		{"created scheduled", []events.Event{ev(1, tN(0), cs)},
			func(d projection.Draft) projection.Draft {
				d.Status, d.ScheduledAt, d.DueAt = projection.StatusScheduled, tN(60), tN(60)
				return d
			}},
		{"scheduled", []events.Event{ev(1, tN(0), c), ev(3, tN(2), &eventsv1.DraftScheduled{DraftId: id, ScheduledAt: ts(tN(30))})},
			func(d projection.Draft) projection.Draft {
				d.Status, d.ScheduledAt, d.DueAt = projection.StatusScheduled, tN(30), tN(30)
				d.UpdatedAt, d.Version = tN(2), 3
				return d
			}},
		{"rescheduled", []events.Event{ev(1, tN(0), cs), ev(4, tN(2), &eventsv1.DraftScheduled{DraftId: id, ScheduledAt: ts(tN(90))})},
			func(d projection.Draft) projection.Draft {
				d.Status, d.ScheduledAt, d.DueAt = projection.StatusScheduled, tN(90), tN(90)
				d.UpdatedAt, d.Version = tN(2), 4
				return d
			}},
		{"unscheduled", []events.Event{ev(1, tN(0), cs), ev(2, tN(3), &eventsv1.DraftUnscheduled{DraftId: id})},
			func(d projection.Draft) projection.Draft {
				d.UpdatedAt, d.Version = tN(3), 2
				return d
			}},
		{"cancelled while scheduled", []events.Event{ev(1, tN(0), cs), ev(2, tN(3), &eventsv1.DraftCancelled{DraftId: id, Reason: "user"})},
			func(d projection.Draft) projection.Draft {
				d.Status, d.ScheduledAt = projection.StatusCancelled, tN(60)
				d.UpdatedAt, d.Version = tN(3), 2
				return d
			}},
		{"publish requested is due at the event's time", []events.Event{ev(1, tN(0), c), ev(2, tN(4), &eventsv1.DraftPublishRequested{DraftId: id})},
			func(d projection.Draft) projection.Draft {
				d.Status, d.DueAt = projection.StatusScheduled, tN(4)
				d.UpdatedAt, d.Version = tN(4), 2
				return d
			}},
		{"publish requested before the scheduled time", []events.Event{ev(1, tN(0), cs), ev(2, tN(4), &eventsv1.DraftPublishRequested{DraftId: id})},
			func(d projection.Draft) projection.Draft {
				d.Status, d.ScheduledAt, d.DueAt = projection.StatusScheduled, tN(60), tN(4)
				d.UpdatedAt, d.Version = tN(4), 2
				return d
			}},
		{"publishing", publishingHistory,
			func(projection.Draft) projection.Draft { return publishing }},
		{"published", with(publishingHistory, ev(6, tN(62), &eventsv1.DraftPublished{DraftId: id, Cid: "bafyout", Rev: "3l2rev", WriteTime: ts(wt1)})),
			func(projection.Draft) projection.Draft {
				d := publishing
				d.Status, d.Claim = projection.StatusPublished, nil
				d.PublishedAt, d.PublishedCID, d.Rev = tN(62), "bafyout", "3l2rev"
				d.UpdatedAt, d.Version = tN(62), 6
				return d
			}},
		{"attempt failed is scheduled for the retry", with(publishingHistory, ev(7, tN(63), &eventsv1.DraftAttemptFailed{DraftId: id, Attempt: 1, Reason: "pds 502", RetryAt: ts(tN(70))})),
			func(projection.Draft) projection.Draft {
				d := publishing
				d.Status, d.Claim = projection.StatusScheduled, nil
				d.ScheduledAt, d.DueAt, d.FailureReason = tN(70), tN(70), "pds 502"
				d.UpdatedAt, d.Version = tN(63), 7
				return d
			}},
		{"second attempt adds its write time", with(publishingHistory,
			ev(7, tN(63), &eventsv1.DraftAttemptFailed{DraftId: id, Attempt: 1, Reason: "pds 502", RetryAt: ts(tN(70))}),
			ev(9, tN(71), &eventsv1.DraftPublishing{DraftId: id, Attempt: 2, WriteTime: ts(wt2), DueVersion: 7})),
			func(projection.Draft) projection.Draft {
				d := publishing
				d.ScheduledAt, d.FailureReason = tN(70), "pds 502"
				d.Attempts = 2
				d.Claim = &projection.Claim{Attempt: 2, WriteTime: wt2, DueVersion: 7, At: tN(71)}
				d.WriteTimes = []time.Time{wt1, wt2}
				d.UpdatedAt, d.Version = tN(71), 9
				return d
			}},
		{"published after a failed attempt clears the reason", with(publishingHistory,
			ev(7, tN(63), &eventsv1.DraftAttemptFailed{DraftId: id, Attempt: 1, Reason: "pds 502", RetryAt: ts(tN(70))}),
			ev(9, tN(71), &eventsv1.DraftPublishing{DraftId: id, Attempt: 2, WriteTime: ts(wt2), DueVersion: 7}),
			ev(10, tN(72), &eventsv1.DraftPublished{DraftId: id, Cid: "bafyout"})),
			func(projection.Draft) projection.Draft {
				d := publishing
				d.Status, d.Claim, d.Attempts = projection.StatusPublished, nil, 2
				d.ScheduledAt, d.PublishedAt, d.PublishedCID = tN(70), tN(72), "bafyout"
				d.WriteTimes = []time.Time{wt1, wt2}
				d.UpdatedAt, d.Version = tN(72), 10
				return d
			}},
		{"takeover keeps the write time once", with(publishingHistory,
			ev(8, tN(70), &eventsv1.DraftPublishing{DraftId: id, Attempt: 1, WriteTime: ts(wt1), DueVersion: 2, Takeover: true})),
			func(projection.Draft) projection.Draft {
				d := publishing
				d.Claim = &projection.Claim{Attempt: 1, WriteTime: wt1, DueVersion: 2, At: tN(70)}
				d.WriteTimes = []time.Time{wt1}
				d.UpdatedAt, d.Version = tN(70), 8
				return d
			}},
		{"failed", with(publishingHistory, ev(8, tN(64), &eventsv1.DraftFailed{DraftId: id, Attempt: 1, Reason: "record invalid"})),
			func(projection.Draft) projection.Draft {
				d := publishing
				d.Status, d.Claim, d.FailureReason = projection.StatusFailed, nil, "record invalid"
				d.UpdatedAt, d.Version = tN(64), 8
				return d
			}},
		{"account events leave a draft alone", []events.Event{ev(1, tN(0), c), ev(2, tN(5), &eventsv1.AccountRevoked{Did: alice})},
			func(d projection.Draft) projection.Draft { return d }},
		{"an unreadable event leaves a draft alone", []events.Event{ev(1, tN(0), c), {Seq: 2}},
			func(d projection.Draft) projection.Draft { return d }},
		{"an envelope without an event leaves a draft alone", []events.Event{ev(1, tN(0), c), {Seq: 2, Envelope: &eventsv1.Envelope{Id: "x"}}},
			func(d projection.Draft) projection.Draft { return d }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got projection.Draft
			for _, e := range tc.history {
				got = projection.Fold(got, e)
			}
			if want := tc.want(base); !reflect.DeepEqual(got, want) {
				t.Fatalf("Fold:\n got %s\nwant %s", dump(got), dump(want))
			}
		})
	}
}

// Fold returns a new state and never writes into the one it was given, even
// through WriteTimes' spare capacity or the Claim pointer.
func TestFoldDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	c := created(alice, "p1", 1, ptr(tN(60)))
	id := c.GetDraftId()
	wt1, wt2, wt3 := tN(61), tN(62), tN(63)
	start := projection.Fold(projection.Draft{}, ev(1, tN(0), c))
	start.WriteTimes = make([]time.Time, 1, 8) // spare capacity to alias into
	start.WriteTimes[0] = wt1
	start.Claim = &projection.Claim{Attempt: 1, WriteTime: wt1, DueVersion: 1, At: tN(61)}
	start.Status = projection.StatusPublishing

	next := []events.Event{
		ev(2, tN(70), &eventsv1.DraftPublishing{DraftId: id, Attempt: 2, WriteTime: ts(wt2)}),
		ev(2, tN(70), &eventsv1.DraftPublishing{DraftId: id, Attempt: 2, WriteTime: ts(wt3)}),
		ev(2, tN(70), &eventsv1.DraftPublished{DraftId: id}),
		ev(2, tN(70), &eventsv1.DraftAttemptFailed{DraftId: id, RetryAt: ts(tN(80))}),
		ev(2, tN(70), &eventsv1.DraftCancelled{DraftId: id}),
		ev(2, tN(70), created(alice, "p1", 2, nil)),
	}
	snapshot := deepCopy(start)
	results := make([]projection.Draft, len(next))
	for i, e := range next {
		results[i] = projection.Fold(start, e)
		if !reflect.DeepEqual(start, snapshot) {
			t.Fatalf("Fold with %s changed its input:\n got %s\nwant %s", e.Type(), dump(start), dump(snapshot))
		}
		if start.WriteTimes[:2][1] != (time.Time{}) {
			t.Fatalf("Fold with %s wrote %v into the input's spare WriteTimes capacity", e.Type(), start.WriteTimes[:2][1])
		}
	}
	// Two folds from one state do not share their write times.
	if got := results[0].WriteTimes; !slices.Equal(got, []time.Time{wt1, wt2}) {
		t.Fatalf("first branch WriteTimes = %v, want [%v %v]", got, wt1, wt2)
	}
	if got := results[1].WriteTimes; !slices.Equal(got, []time.Time{wt1, wt3}) {
		t.Fatalf("second branch WriteTimes = %v, want [%v %v]", got, wt1, wt3)
	}
}

func TestStatusTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status projection.Status
		want   bool
	}{
		{projection.StatusDraft, false},
		{projection.StatusScheduled, false},
		{projection.StatusPublishing, false},
		{projection.StatusPublished, true},
		{projection.StatusFailed, true},
		{projection.StatusCancelled, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			if got := tc.status.Terminal(); got != tc.want {
				t.Fatalf("%s.Terminal() = %v, want %v", tc.status, got, tc.want)
			}
		})
	}
}

func deepCopy(d projection.Draft) projection.Draft {
	d.Record = slices.Clone(d.Record)
	d.WriteTimes = slices.Clone(d.WriteTimes)
	if d.Claim != nil {
		c := *d.Claim
		d.Claim = &c
	}
	return d
}

func dump(d projection.Draft) string {
	claim := "nil"
	if d.Claim != nil {
		claim = fmt.Sprintf("%+v", *d.Claim)
	}
	d.Record = nil
	return fmt.Sprintf("%+v claim=%s", d, claim)
}

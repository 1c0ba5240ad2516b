package projection_test

import (
	"testing"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/projection"
)

func TestFoldUpdatesRetriesAndTriggers(t *testing.T) {
	t.Parallel()
	c := created(alice, "3kupdate", 1, nil)
	c.TriggerHash = "abc123"
	id := c.DraftId
	newRecord := []byte(`{"$type":"app.bsky.feed.post","text":"edited","createdAt":"2026-06-01T12:00:00Z"}`)
	at := tN(30)

	d := projection.Fold(projection.Draft{}, ev(1, tN(0), c))
	if d.TriggerHash != "abc123" || d.TriggerFired {
		t.Fatalf("created: trigger %q fired %v", d.TriggerHash, d.TriggerFired)
	}
	d = projection.Fold(d, ev(2, tN(1), &eventsv1.DraftUpdated{DraftId: id, Record: newRecord, Cid: "bafyreinew"}))
	if string(d.Record) != string(newRecord) || d.CID != "bafyreinew" || d.Status != projection.StatusDraft || d.Version != 2 {
		t.Fatalf("record update: %+v", d)
	}
	d = projection.Fold(d, ev(3, tN(2), &eventsv1.DraftUpdated{DraftId: id, ScheduledAt: ts(at)}))
	if string(d.Record) != string(newRecord) || d.Status != projection.StatusScheduled || !d.DueAt.Equal(at) || !d.ScheduledAt.Equal(at) {
		t.Fatalf("time-only update kept the record and scheduled: %+v", d)
	}
	d = projection.Fold(d, ev(4, tN(3), &eventsv1.DraftPublishRequested{DraftId: id, Trigger: true}))
	if !d.TriggerFired || !d.DueAt.Equal(tN(3)) {
		t.Fatalf("trigger fired: %+v", d)
	}
	d = projection.Fold(d, ev(5, tN(3), &eventsv1.DraftPublishing{DraftId: id, Attempt: 1, WriteTime: ts(tN(3)), DueVersion: 4}))
	d = projection.Fold(d, ev(6, tN(4), &eventsv1.DraftFailed{DraftId: id, Attempt: 1, Reason: "boom"}))
	d = projection.Fold(d, ev(7, tN(5), &eventsv1.DraftRetried{DraftId: id}))
	if d.Status != projection.StatusScheduled || d.Attempts != 0 || d.FailureReason != "" || !d.DueAt.Equal(tN(5)) || !d.TriggerFired {
		t.Fatalf("retried: %+v", d)
	}
	if len(d.WriteTimes) != 1 {
		t.Fatalf("retry forgot earlier write times: %v", d.WriteTimes)
	}
}

// Listing by schedule: soonest first, ties by ID, pages that never skip or
// repeat a row even when many drafts share one time.
func TestListBySchedulePages(t *testing.T) {
	t.Parallel()
	v := projection.NewView()
	seq := uint64(0)
	want := 0
	for i := range 23 {
		at := tN(10 + i%3) // many drafts share each time
		seq++
		v.Apply(ev(seq, tN(0), created(alice, "3kbysched"+string(rune('a'+i)), 1, &at)))
		want++
	}
	seq++
	v.Apply(ev(seq, tN(0), created(alice, "3kunscheduled", 1, nil)))
	var got []projection.Draft
	cursor := ""
	for {
		page, next, err := v.List(alice, projection.Query{Status: projection.StatusScheduled, Limit: 4, Cursor: cursor, BySchedule: true})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(got) != want {
		t.Fatalf("paged %d drafts, want %d", len(got), want)
	}
	seen := map[string]bool{}
	for i, d := range got {
		if seen[d.ID] {
			t.Fatalf("%s listed twice", d.ID)
		}
		seen[d.ID] = true
		if i > 0 {
			prev := got[i-1]
			if d.ScheduledAt.Before(prev.ScheduledAt) || d.ScheduledAt.Equal(prev.ScheduledAt) && d.ID < prev.ID {
				t.Fatalf("row %d out of order", i)
			}
		}
	}
}

package chain_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/chain"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const did = "did:plc:chaintest"

// t0 is a Monday, 08:30 UTC.
var t0 = time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)

// daily9 is every day at 09:00 UTC; count3 the same, three times.
const (
	daily9 = `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`
	count3 = `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"count":3}`
	record = `{"$type":"app.bsky.feed.post","text":"good morning","createdAt":"2026-01-01T00:00:00.000Z"}`
)

// rig is a view fed by the log of an embedded NATS server, a store and a
// fake clock: the parts a chainer works on. Publishing is played by the
// test, appending what a publisher would.
type rig struct {
	t     *testing.T
	store *events.Store
	view  *projection.View
	clock *clock.Fake
}

func newRig(t *testing.T) *rig {
	t.Helper()
	js := natstest.Provisioned(t)
	r := &rig{t: t, store: events.NewStore(js), view: projection.NewView(), clock: clock.NewFake(t0)}
	feed := events.NewFeed(js, nil, r.view.Apply)
	if err := feed.Start(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Stop)
	return r
}

func (r *rig) chainer() *chain.Chainer {
	return chain.New(chain.Config{View: r.view, Store: r.store, Clock: r.clock})
}

func (r *rig) append(subject string, expected uint64, ev proto.Message) uint64 {
	r.t.Helper()
	seq, err := r.store.Append(context.Background(), subject, expected, events.New("test", r.clock.Now(), ev))
	if err != nil {
		r.t.Fatalf("append %T: %v", ev, err)
	}
	if err := r.view.WaitFor(context.Background(), seq); err != nil {
		r.t.Fatal(err)
	}
	return seq
}

// create appends a schedule as the gateway does, without advancing it.
func (r *rig) create(rule, content string) string {
	r.t.Helper()
	id := fmt.Sprintf("sched-%d", time.Now().UnixNano())
	ev := &eventsv1.ScheduleCreated{ScheduleId: id, Did: did, Collection: "app.bsky.feed.post", Rule: []byte(rule), Timezone: "UTC"}
	if strings.HasPrefix(content, "http") {
		ev.ContentUrl = content
	} else {
		ev.Record = []byte(content)
	}
	r.append(events.ScheduleSubject(did, id), 0, ev)
	return id
}

func (r *rig) schedule(id string) projection.Schedule {
	r.t.Helper()
	s, ok := r.view.Schedule(id)
	if !ok {
		r.t.Fatalf("no schedule %s", id)
	}
	return s
}

// pending is the schedule's queued draft, which must exist.
func (r *rig) pending(id string) projection.Draft {
	r.t.Helper()
	s := r.schedule(id)
	if s.Pending == nil {
		r.t.Fatalf("schedule %s (%s) has nothing queued", id, s.Status)
	}
	d, ok := r.view.Draft(s.Pending.DraftID)
	if !ok {
		r.t.Fatalf("queued draft %s of %s not created", s.Pending.DraftID, id)
	}
	return d
}

// publish plays a publisher: claim, then DraftPublished.
func (r *rig) publish(d projection.Draft) {
	r.t.Helper()
	subject := events.DraftSubject(d.DID, d.ID)
	seq := r.append(subject, d.Version, &eventsv1.DraftPublishing{DraftId: d.ID, Attempt: 1, WriteTime: timestamppb.New(r.clock.Now()), DueVersion: d.Version})
	r.append(subject, seq, &eventsv1.DraftPublished{DraftId: d.ID, Cid: "bafyreitest", WriteTime: timestamppb.New(r.clock.Now())})
}

func (r *rig) fail(d projection.Draft, reason string) {
	r.t.Helper()
	subject := events.DraftSubject(d.DID, d.ID)
	seq := r.append(subject, d.Version, &eventsv1.DraftPublishing{DraftId: d.ID, Attempt: 1, WriteTime: timestamppb.New(r.clock.Now()), DueVersion: d.Version})
	r.append(subject, seq, &eventsv1.DraftFailed{DraftId: d.ID, Attempt: 1, Reason: reason})
}

func advance(t *testing.T, c *chain.Chainer, id string) {
	t.Helper()
	if err := c.Advance(context.Background(), id); err != nil {
		t.Fatalf("Advance: %v", err)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Each occurrence is a scheduled draft with a TID rkey of its instant; the
// next is found after the occurrence that ended, not after the clock.
func TestOccurrencesChainFromTheOccurrence(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	id := r.create(daily9, record)
	advance(t, c, id)

	d := r.pending(id)
	if d.Status != projection.StatusScheduled || !d.ScheduledAt.Equal(at("2026-03-02T09:00:00Z")) {
		t.Fatalf("first occurrence: %s at %s, want scheduled at 09:00", d.Status, d.ScheduledAt)
	}
	tid, err := syntax.ParseTID(d.Rkey)
	if err != nil || !tid.Time().Equal(d.ScheduledAt) {
		t.Fatalf("rkey %q is not a TID of the occurrence (%v, %v)", d.Rkey, tid.Time(), err)
	}
	if d.Occurrence == nil || d.Occurrence.ScheduleID != id || d.Occurrence.FireCount != 1 || string(d.Record) == "" {
		t.Fatalf("draft occurrence = %+v, record %q", d.Occurrence, d.Record)
	}

	// Published late (at 09:03): the next is tomorrow's, found after 09:00.
	r.clock.Set(at("2026-03-02T09:03:00Z"))
	r.publish(d)
	advance(t, c, id)
	next := r.pending(id)
	if !next.ScheduledAt.Equal(at("2026-03-03T09:00:00Z")) || next.Occurrence.FireCount != 2 {
		t.Fatalf("second occurrence at %s (fireCount %d), want 2026-03-03T09:00Z, 2", next.ScheduledAt, next.Occurrence.FireCount)
	}
	s := r.schedule(id)
	if s.FireCount != 1 || !s.LastFiredAt.Equal(at("2026-03-02T09:03:00Z")) {
		t.Fatalf("fireCount %d, lastFiredAt %s", s.FireCount, s.LastFiredAt)
	}

	// The same occurrence always gets the same record key.
	other := r.rkeyOf(t, id, next.ScheduledAt)
	if other != next.Rkey {
		t.Fatalf("rkey of the occurrence is %s here, %s there", other, next.Rkey)
	}
}

// rkeyOf queues the same occurrence for a copy of the schedule in a fresh
// log and returns its rkey.
func (r *rig) rkeyOf(t *testing.T, id string, occurrenceAt time.Time) string {
	t.Helper()
	r2 := newRig(t)
	r2.clock.Set(occurrenceAt.Add(-time.Hour))
	s := r.schedule(id)
	r2.append(events.ScheduleSubject(did, id), 0, &eventsv1.ScheduleCreated{ScheduleId: id, Did: did, Collection: s.Collection, Rule: s.Rule, Record: s.Record})
	advance(t, r2.chainer(), id)
	return r2.pending(id).Rkey
}

// Publishing an occurrence early (publishPost) never queues it again.
func TestEarlyPublishDoesNotRequeue(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	id := r.create(daily9, record)
	advance(t, c, id)
	first := r.pending(id)
	r.publish(first) // at 08:30, half an hour early
	advance(t, c, id)
	if next := r.pending(id); !next.ScheduledAt.Equal(at("2026-03-03T09:00:00Z")) {
		t.Fatalf("after an early publish the next occurrence is %s, want tomorrow's", next.ScheduledAt)
	}
}

// Replays, duplicate deliveries and chainers side by side queue each
// occurrence once.
func TestConcurrentAdvanceQueuesOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.create(daily9, record)
	r.advanceAtOnce(t, 8, id)
	r.publish(r.pending(id))
	r.advanceAtOnce(t, 8, id)
	counts := r.eventCounts(t)
	if counts["ScheduleOccurrenceQueued"] != 2 || counts["DraftCreated"] != 2 {
		t.Fatalf("events %v, want 2 occurrences queued and 2 drafts", counts)
	}
}

// advanceAtOnce advances each of ids from n chainers at once.
func (r *rig) advanceAtOnce(t *testing.T, n int, ids ...string) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		for _, id := range ids {
			wg.Go(func() {
				if err := r.chainer().Advance(context.Background(), id); err != nil {
					t.Errorf("Advance %s: %v", id, err)
				}
			})
		}
	}
	wg.Wait()
}

func (r *rig) eventCounts(t *testing.T) map[string]int {
	t.Helper()
	counts := map[string]int{}
	err := r.store.Replay(context.Background(), 1, nil, func(ev events.Event) error {
		counts[ev.Type()]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// A failed occurrence, or one whose draft its owner cancels, moves the
// schedule on, with the failure on the schedule; never a silent stall.
func TestFailedOrCancelledOccurrenceMovesOn(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	id := r.create(daily9, record)
	advance(t, c, id)
	r.clock.Set(at("2026-03-02T09:21:00Z"))
	r.fail(r.pending(id), "InvalidRequest: Record is invalid")
	advance(t, c, id)
	s := r.schedule(id)
	if s.Status != projection.ScheduleActive || s.LastFailure != "InvalidRequest: Record is invalid" || !s.LastFailureAt.Equal(at("2026-03-02T09:00:00Z")) {
		t.Fatalf("after a failure: %s, last failure %q at %s", s.Status, s.LastFailure, s.LastFailureAt)
	}
	second := r.pending(id)
	if !second.ScheduledAt.Equal(at("2026-03-03T09:00:00Z")) {
		t.Fatalf("after a failure the next occurrence is %s", second.ScheduledAt)
	}
	r.append(events.DraftSubject(did, second.ID), second.Version, &eventsv1.DraftCancelled{DraftId: second.ID, Reason: "deleted by the user"})
	advance(t, c, id)
	if third := r.pending(id); !third.ScheduledAt.Equal(at("2026-03-04T09:00:00Z")) {
		t.Fatalf("after a cancel the next occurrence is %s", third.ScheduledAt)
	}
	if s := r.schedule(id); !strings.Contains(s.LastFailure, "cancelled") {
		t.Fatalf("last failure %q, want the cancellation", s.LastFailure)
	}
}

// Pause cancels the queued draft; resume queues the next occurrence after
// the resume.
func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	id := r.create(daily9, record)
	advance(t, c, id)
	first := r.pending(id)
	s := r.schedule(id)
	r.append(events.ScheduleSubject(did, id), s.Version, &eventsv1.SchedulePaused{ScheduleId: id})
	advance(t, c, id)
	if d, _ := r.view.Draft(first.ID); d.Status != projection.StatusCancelled {
		t.Fatalf("queued draft is %s after a pause, want cancelled", d.Status)
	}
	if s := r.schedule(id); s.Status != projection.SchedulePaused || s.Pending != nil {
		t.Fatalf("paused schedule: %s, pending %v", s.Status, s.Pending)
	}

	r.clock.Set(at("2026-03-04T12:00:00Z")) // two occurrences missed while paused
	s = r.schedule(id)
	r.append(events.ScheduleSubject(did, id), s.Version, &eventsv1.ScheduleResumed{ScheduleId: id})
	advance(t, c, id)
	if d := r.pending(id); !d.ScheduledAt.Equal(at("2026-03-05T09:00:00Z")) || d.Status != projection.StatusScheduled {
		t.Fatalf("after resume: %s at %s, want scheduled 2026-03-05T09:00Z", d.Status, d.ScheduledAt)
	}

	// Resuming before the dropped occurrence's time queues that occurrence
	// again, under the same record key (a new lifecycle of its URI).
	r2 := newRig(t)
	c2 := r2.chainer()
	id2 := r2.create(daily9, record)
	advance(t, c2, id2)
	dropped := r2.pending(id2)
	s2 := r2.schedule(id2)
	r2.append(events.ScheduleSubject(did, id2), s2.Version, &eventsv1.SchedulePaused{ScheduleId: id2})
	advance(t, c2, id2)
	r2.append(events.ScheduleSubject(did, id2), r2.schedule(id2).Version, &eventsv1.ScheduleResumed{ScheduleId: id2})
	advance(t, c2, id2)
	again := r2.pending(id2)
	if again.URI != dropped.URI || again.Lifecycle != 2 || !again.ScheduledAt.Equal(dropped.ScheduledAt) {
		t.Fatalf("requeued %s lifecycle %d at %s, want %s lifecycle 2 at %s", again.URI, again.Lifecycle, again.ScheduledAt, dropped.URI, dropped.ScheduledAt)
	}
}

// A series that ends is completed, with nothing queued.
func TestSeriesCompletes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	id := r.create(count3, record)
	for i := range 3 {
		advance(t, c, id)
		d := r.pending(id)
		r.clock.Set(d.ScheduledAt)
		r.publish(d)
		if got := r.schedule(id).FireCount; got != uint32(i+1) {
			t.Fatalf("fireCount %d, want %d", got, i+1)
		}
	}
	advance(t, c, id)
	if s := r.schedule(id); s.Status != projection.ScheduleCompleted || s.Pending != nil || s.FireCount != 3 {
		t.Fatalf("after 3 of 3: %s, pending %v, fireCount %d", s.Status, s.Pending, s.FireCount)
	}
}

// An occurrence overdue by more than MissedGrace when it would be queued is
// skipped: a schedule held up for days does not publish a burst of stale
// posts.
func TestStaleOccurrencesAreSkipped(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	id := r.create(daily9, record)
	advance(t, c, id)
	r.clock.Set(at("2026-03-05T10:00:00Z")) // three days late
	r.publish(r.pending(id))
	advance(t, c, id)
	if d := r.pending(id); !d.ScheduledAt.Equal(at("2026-03-06T09:00:00Z")) {
		t.Fatalf("next after a long stall is %s, want the next future occurrence", d.ScheduledAt)
	}
}

// queueWithoutDraft queues the schedule's first occurrence (2026-03-02
// 09:00) as a chainer that crashed before creating its draft leaves it,
// and returns the occurrence's URI.
func (r *rig) queueWithoutDraft(id string) string {
	r.t.Helper()
	occurrence := at("2026-03-02T09:00:00Z")
	uri := "at://" + did + "/app.bsky.feed.post/" + syntax.NewTID(occurrence.UnixMicro(), 7).String()
	r.append(events.ScheduleSubject(did, id), r.schedule(id).Version, &eventsv1.ScheduleOccurrenceQueued{
		ScheduleId: id, DraftId: events.DraftID(uri, 1), Uri: uri, Lifecycle: 1,
		At: timestamppb.New(occurrence), Date: "2026-03-02", After: timestamppb.New(t0),
	})
	return uri
}

// A crash between ScheduleOccurrenceQueued and the draft's DraftCreated is
// mended by the next Advance.
func TestQueuedWithoutDraftIsMended(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.create(daily9, record)
	uri := r.queueWithoutDraft(id)
	advance(t, r.chainer(), id)
	if d := r.pending(id); d.URI != uri || d.Status != projection.StatusScheduled {
		t.Fatalf("mended draft %s %s, want %s scheduled", d.URI, d.Status, uri)
	}
}

// A pause that lands after a chainer decided to create an occurrence's
// draft, but before the draft exists, finds nothing to cancel; the same
// Advance's next step sees the dropped occurrence and cancels the draft,
// so a paused schedule never publishes.
func TestPauseWhileCreatingCancelsTheDraft(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.create(daily9, record)
	uri := r.queueWithoutDraft(id)
	draftID := events.DraftID(uri, 1)
	c := r.chainer()
	var creating []string
	chain.BeforeCreate(c, func(created string) {
		creating = append(creating, created)
		if len(creating) == 1 { // the pause lands in the window, once
			r.append(events.ScheduleSubject(did, id), r.schedule(id).Version, &eventsv1.SchedulePaused{ScheduleId: id})
		}
	})
	advance(t, c, id)

	if len(creating) != 1 || creating[0] != draftID {
		t.Fatalf("drafts created: %v, want %s once", creating, draftID)
	}
	d, ok := r.view.Draft(draftID)
	if !ok || d.Status != projection.StatusCancelled {
		t.Fatalf("the occurrence's draft after the pause: %+v (found %v), want cancelled", d.Status, ok)
	}
	if s := r.schedule(id); s.Status != projection.SchedulePaused || s.Pending != nil {
		t.Fatalf("schedule after the pause: %s, pending %v", s.Status, s.Pending)
	}
}

// The override_payload of an occurrence's date is the draft's record; a
// content URL schedule's drafts carry the URL and no record.
func TestOccurrenceContent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.chainer()
	override := `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},` +
		`"exceptions":[{"date":"2026-03-02","type":"override_payload","record":{"$type":"app.bsky.feed.post","text":"special","createdAt":"2026-01-01T00:00:00Z"}}]}`
	id := r.create(override, record)
	advance(t, c, id)
	if d := r.pending(id); !strings.Contains(string(d.Record), "special") {
		t.Fatalf("override occurrence record %s", d.Record)
	}
	dyn := r.create(daily9, "https://content.example/next")
	advance(t, c, dyn)
	if d := r.pending(dyn); len(d.Record) != 0 || d.Occurrence.ContentURL != "https://content.example/next" {
		t.Fatalf("dynamic occurrence record %q url %q", d.Record, d.Occurrence.ContentURL)
	}
}

// The service advances schedules by itself: a published occurrence is
// followed by the next without anyone calling Advance, and schedules left
// behind while no chainer ran are advanced at start.
func TestServiceChainsOnEvents(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.create(daily9, record) // nobody advanced it
	c := r.chainer()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	first := r.waitPending(t, id, nil)
	r.publish(first)
	second := r.waitPending(t, id, &first)
	if !second.ScheduledAt.Equal(at("2026-03-03T09:00:00Z")) {
		t.Fatalf("service queued %s", second.ScheduledAt)
	}
}

// waitPending waits for a queued draft other than prev.
func (r *rig) waitPending(t *testing.T, id string, prev *projection.Draft) projection.Draft {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s, ok := r.view.Schedule(id); ok && s.Pending != nil && (prev == nil || s.Pending.DraftID != prev.ID) {
			if d, ok := r.view.Draft(s.Pending.DraftID); ok {
				return d
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("schedule %s queued nothing new", id)
	return projection.Draft{}
}

// Two schedules of one account whose occurrence keys would be the same (a
// TID of the same instant with the same clock id), queued at the same
// moment, each get a draft of their own.
func TestCollidingKeysGetTheirOwnDrafts(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a, b := collidingIDs(t)
	for _, id := range []string{a, b} {
		r.append(events.ScheduleSubject(did, id), 0, &eventsv1.ScheduleCreated{
			ScheduleId: id, Did: did, Collection: "app.bsky.feed.post", Rule: []byte(daily9), Record: []byte(record),
		})
	}
	r.advanceAtOnce(t, 2, a, b)
	da, db := r.pending(a), r.pending(b)
	if da.URI == db.URI || !da.ScheduledAt.Equal(db.ScheduledAt) {
		t.Fatalf("drafts %s and %s for occurrences %s and %s", da.URI, db.URI, da.ScheduledAt, db.ScheduledAt)
	}
	for _, id := range []string{a, b} {
		if s := r.schedule(id); s.Status != projection.ScheduleActive {
			t.Fatalf("schedule %s is %s (%s)", id, s.Status, s.LastFailure)
		}
	}
}

// collidingIDs finds two schedule IDs whose occurrence keys share a clock id.
func collidingIDs(t *testing.T) (string, string) {
	t.Helper()
	seen := map[string]string{}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range 100000 {
		id := fmt.Sprintf("collide-%d", i)
		rkey := rkeyFor(id, at)
		if other, ok := seen[rkey]; ok {
			return other, id
		}
		seen[rkey] = id
	}
	t.Fatal("no colliding schedule IDs found")
	return "", ""
}

func rkeyFor(id string, at time.Time) string { return chain.FirstKey(id, at) }

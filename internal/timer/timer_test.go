package timer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/timer"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

type rig struct {
	t     *testing.T
	js    jetstream.JetStream
	view  *projection.View
	clock *clock.Fake
	seq   uint64
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return &rig{t: t, js: natstest.Provisioned(t), view: projection.NewView(), clock: clock.NewFake(t0)}
}

func (r *rig) start(claimTimeout time.Duration) *timer.Timer {
	return r.startWith(timer.Config{ClaimTimeout: claimTimeout})
}

func (r *rig) startWith(cfg timer.Config) *timer.Timer {
	cfg.View, cfg.JS, cfg.Clock = r.view, r.js, r.clock
	tm := timer.New(cfg)
	if err := tm.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(tm.Stop)
	return tm
}

// apply feeds the view an event as the log would, and returns its seq.
func (r *rig) apply(ev proto.Message) uint64 {
	r.seq++
	r.view.Apply(events.Event{Seq: r.seq, Envelope: events.New("test", r.clock.Now(), ev)})
	return r.seq
}

func (r *rig) create(id string, due time.Time) uint64 {
	return r.apply(&eventsv1.DraftCreated{
		DraftId: id, Uri: "at://did:plc:x/app.bsky.feed.post/" + id, Did: "did:plc:x",
		Collection: "app.bsky.feed.post", Rkey: id, Action: eventsv1.Action_ACTION_CREATE,
		ScheduledAt: timestamppb.New(due), Lifecycle: 1,
	})
}

// dues returns the DraftDue messages in ALF_DUE, with their message ids.
func (r *rig) dues() map[string]*eventsv1.DraftDue {
	r.t.Helper()
	ctx := context.Background()
	st, err := r.js.Stream(ctx, events.StreamDue)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]*eventsv1.DraftDue{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		due, err := timer.DecodeDue(msg.Data)
		if err != nil {
			r.t.Fatal(err)
		}
		out[msg.Header.Get(jetstream.MsgIDHeader)] = due
	}
	return out
}

// settle gives the timer's goroutine a moment to act on a clock change.
func (r *rig) settle() { time.Sleep(100 * time.Millisecond) }

func (r *rig) waitDues(n int) map[string]*eventsv1.DraftDue {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := r.dues()
		if len(d) >= n || time.Now().After(deadline) {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEmitsAtTheDueInstantNotBefore(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(0)
	v := r.create("a", t0.Add(10*time.Second))
	r.clock.Advance(9 * time.Second)
	r.settle()
	if got := r.dues(); len(got) != 0 {
		t.Fatalf("emitted %d before the due time", len(got))
	}
	r.clock.Advance(time.Second)
	got := r.waitDues(1)
	due, ok := got["a:"+itoa(v)]
	if len(got) != 1 || !ok {
		t.Fatalf("dues = %v, want one with id a:%d", got, v)
	}
	if due.Version != v || due.Did != "did:plc:x" || !due.DueAt.AsTime().Equal(t0.Add(10*time.Second)) {
		t.Fatalf("due = %v", due)
	}
}

// With a lead, DraftDue is emitted that long ahead and names the real due
// instant, for the publisher to hold until then.
func TestEmitsLeadAheadOfTheDueInstant(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.startWith(timer.Config{Lead: 2 * time.Second})
	v := r.create("a", t0.Add(10*time.Second))
	r.clock.Advance(7 * time.Second)
	r.settle()
	if got := r.dues(); len(got) != 0 {
		t.Fatalf("emitted %d more than the lead ahead", len(got))
	}
	r.clock.Advance(time.Second)
	got := r.waitDues(1)
	due := got["a:"+itoa(v)]
	if due == nil || !due.DueAt.AsTime().Equal(t0.Add(10*time.Second)) {
		t.Fatalf("dues = %v, want one naming the due instant", got)
	}
}

func TestRescheduledAndCancelledDraftsAreDroppedLazily(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tm := r.start(0)
	r.create("moved", t0.Add(time.Second))
	moved := r.apply(&eventsv1.DraftScheduled{DraftId: "moved", ScheduledAt: timestamppb.New(t0.Add(5 * time.Second))})
	r.create("gone", t0.Add(time.Second))
	r.apply(&eventsv1.DraftCancelled{DraftId: "gone"})
	if tm.Len() != 3 {
		t.Fatalf("heap holds %d entries, want 3 (stale ones stay until popped)", tm.Len())
	}
	r.clock.Advance(2 * time.Second)
	r.settle()
	if got := r.dues(); len(got) != 0 {
		t.Fatalf("stale entries emitted: %v", got)
	}
	r.clock.Advance(3 * time.Second)
	got := r.waitDues(1)
	if _, ok := got["moved:"+itoa(moved)]; len(got) != 1 || !ok {
		t.Fatalf("dues = %v, want only the moved draft at its new version", got)
	}
}

func TestCatchUpEmitsOverdueDraftsAtStart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// Became due while no timer ran.
	r.create("late1", t0.Add(-time.Hour))
	r.create("late2", t0.Add(-time.Minute))
	r.create("future", t0.Add(time.Hour))
	r.start(0)
	r.waitDues(2)
	r.settle() // and nothing more comes
	got := r.dues()
	if len(got) != 2 || got["late1:1"] == nil || got["late2:2"] == nil {
		t.Fatalf("dues = %v, want late1 and late2", got)
	}
}

func TestStuckClaimIsEmittedAgainAfterTheClaimTimeout(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(time.Minute)
	v := r.create("stuck", t0)
	if got := r.waitDues(1); len(got) != 1 {
		t.Fatalf("the due draft was not emitted: %v", got)
	}
	// A publisher claims it and stops.
	claim := r.apply(&eventsv1.DraftPublishing{DraftId: "stuck", Attempt: 1, WriteTime: timestamppb.New(t0), DueVersion: v})
	r.clock.Advance(59 * time.Second)
	r.settle()
	if got := r.dues(); len(got) != 1 {
		t.Fatalf("re-emitted before the claim timeout: %v", got)
	}
	r.clock.Advance(time.Second)
	got := r.waitDues(2)
	again, ok := got["stuck:"+itoa(claim)]
	if !ok || again.Version != v {
		t.Fatalf("dues = %v, want a re-emission naming the claim's due version %d", got, v)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

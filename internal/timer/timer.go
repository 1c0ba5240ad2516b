// Package timer emits DraftDue when a draft's time comes. It folds the
// projection's draft changes into a min-heap of (due time, draft, version),
// arms one timer for the head (no polling), and publishes DraftDue to the
// work-queue stream ALF_DUE with Nats-Msg-Id "<draft>:<version>", so timers
// running side by side emit each due once. It emits Lead before the due
// instant; the publisher holds the message until the instant itself.
//
// Heap entries are deleted lazily: a popped entry whose version is no longer
// the draft's newest, or whose draft is no longer due, is dropped. At start
// the timer emits everything that became due while nothing ran (catch-up),
// and drafts held by a publisher for longer than the claim timeout.
//
//	t := timer.New(timer.Config{View: view, JS: js})
//	// start the view's feed and wait for it to catch up, then:
//	t.Start(ctx)
//	defer t.Stop()
package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/metrics"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Config wires a Timer.
type Config struct {
	View  *projection.View
	JS    jetstream.JetStream
	Clock clock.Clock  // default clock.Real
	Log   *slog.Logger // default slog.Default()
	// ClaimTimeout is how long a draft may stay publishing before the timer
	// emits it again for another publisher to take over (default 2 min).
	ClaimTimeout time.Duration
	Metrics      *metrics.Metrics
	// Lead is how long before its due instant a draft's DraftDue is
	// emitted; the publisher holds it until the instant. Emitting ahead
	// takes the queueing of DraftDue out of the publish path. 0 emits at the
	// instant; node uses DefaultLead.
	Lead time.Duration
	// RetryDelay is how long to wait before emitting again after ALF_DUE
	// refused a message (default 1 s).
	RetryDelay time.Duration
}

// DefaultLead is the Lead alf runs with: well under any ack wait, enough to
// queue a burst of DraftDue before its instant.
const DefaultLead = time.Second

// Timer is the due-time service. Create it with New before the view's feed
// starts, so it sees every change.
type Timer struct {
	cfg Config

	mu sync.Mutex
	q  *queue

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a timer observing cfg.View.
func New(cfg Config) *Timer {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = 2 * time.Minute
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	t := &Timer{cfg: cfg, q: newQueue(), wake: make(chan struct{}, 1)}
	cfg.View.Observe(t.observe)
	return t
}

// observe queues a changed draft if it needs the timer.
func (t *Timer) observe(d projection.Draft) {
	it, ok := t.itemFor(d)
	if !ok {
		return
	}
	t.mu.Lock()
	pushed := t.q.push(it)
	t.mu.Unlock()
	if pushed {
		t.poke()
	}
}

func (t *Timer) itemFor(d projection.Draft) (item, bool) {
	switch {
	case d.Status == projection.StatusScheduled && !d.DueAt.IsZero():
		return item{at: d.DueAt.Add(-t.cfg.Lead), id: d.ID, version: d.Version}, true
	case d.Status == projection.StatusPublishing && d.Claim != nil:
		return item{at: d.Claim.At.Add(t.cfg.ClaimTimeout), id: d.ID, version: d.Version}, true
	}
	return item{}, false
}

func (t *Timer) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Start queues every pending draft of the view (catch-up) and starts the
// loop. Call it once the view has caught up with the log.
func (t *Timer) Start(ctx context.Context) error {
	if t.done != nil {
		return errors.New("timer already started")
	}
	for _, d := range t.cfg.View.Pending() {
		t.observe(d)
	}
	ctx, t.cancel = context.WithCancel(context.WithoutCancel(ctx))
	t.done = make(chan struct{})
	go t.loop(ctx)
	return nil
}

// Stop ends the loop and waits for it.
func (t *Timer) Stop() {
	if t.done == nil {
		return
	}
	t.cancel()
	<-t.done
}

// Len is the number of queued entries (including lazily deleted ones).
func (t *Timer) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.q.len()
}

func (t *Timer) loop(ctx context.Context) {
	defer close(t.done)
	tm := t.cfg.Clock.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		t.fire(ctx)
		t.mu.Lock()
		next, ok := t.q.next()
		t.mu.Unlock()
		tm.Stop()
		if ok {
			tm.Reset(max(next.Sub(t.cfg.Clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-tm.C():
		}
	}
}

// fire emits every due entry that is still current.
func (t *Timer) fire(ctx context.Context) {
	now := t.cfg.Clock.Now()
	t.mu.Lock()
	items := t.q.popDue(now)
	t.mu.Unlock()
	if len(items) == 0 {
		return
	}
	type pending struct {
		it  item
		ack jetstream.PubAckFuture
	}
	var sent []pending
	for _, it := range items {
		msg, ok := t.dueMsg(it)
		if !ok {
			continue
		}
		ack, err := t.cfg.JS.PublishMsgAsync(msg)
		if err != nil {
			t.retry(it, err)
			continue
		}
		sent = append(sent, pending{it, ack})
	}
	for _, p := range sent {
		select {
		case <-p.ack.Ok():
			t.cfg.Metrics.Emitted(1)
		case err := <-p.ack.Err():
			t.retry(p.it, err)
		case <-ctx.Done():
			return
		}
	}
}

// dueMsg builds the DraftDue for a popped entry, or reports it stale.
func (t *Timer) dueMsg(it item) (*nats.Msg, bool) {
	d, ok := t.cfg.View.Draft(it.id)
	if !ok || d.Version != it.version {
		return nil, false
	}
	due := &eventsv1.DraftDue{DraftId: d.ID, Did: d.DID, Version: d.Version}
	switch d.Status {
	case projection.StatusScheduled:
		due.DueAt = timestamppb.New(d.DueAt)
	case projection.StatusPublishing:
		// The publisher holding it stopped: name the version its claim came
		// from, so another publisher may take it over.
		due.Version = d.Claim.DueVersion
		due.DueAt = timestamppb.New(d.Claim.At)
	default:
		return nil, false
	}
	data, err := proto.Marshal(due)
	if err != nil {
		t.cfg.Log.Error("encode DraftDue", "draft", d.ID, "err", err)
		return nil, false
	}
	msg := nats.NewMsg(events.DueSubject(d.DID))
	msg.Data = data
	// The draft's current version names the message: a re-emission of a
	// stuck claim (current version = the claim) differs from the original.
	msg.Header.Set(jetstream.MsgIDHeader, d.ID+":"+strconv.FormatUint(d.Version, 10))
	return msg, true
}

// retry queues an entry again shortly after ALF_DUE refused it.
func (t *Timer) retry(it item, err error) {
	t.cfg.Log.Warn("emit DraftDue failed; will retry", "draft", it.id, "err", err)
	it.at = t.cfg.Clock.Now().Add(t.cfg.RetryDelay)
	t.mu.Lock()
	if t.q.queued[it.id] == it.version {
		delete(t.q.queued, it.id)
	}
	t.q.push(it)
	t.mu.Unlock()
}

// DecodeDue parses a DraftDue message body.
func DecodeDue(data []byte) (*eventsv1.DraftDue, error) {
	due := new(eventsv1.DraftDue)
	if err := proto.Unmarshal(data, due); err != nil {
		return nil, fmt.Errorf("decode DraftDue: %w", err)
	}
	return due, nil
}

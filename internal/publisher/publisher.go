// Package publisher performs due drafts on the user's PDS, exactly once in
// effect. It is a durable pull consumer on ALF_DUE: at-least-once delivery,
// plus a claim event and an idempotent write, give exactly one record.
//
// For each DraftDue:
//
//  1. wait for the local view to reach the draft's version; a stale message
//     (draft changed, cancelled, published) is acked and dropped;
//  2. claim: append DraftPublishing at the draft's version (a lost race is
//     acked and dropped); the claim fixes the createdAt to write;
//  3. write with the draft's fixed rkey, heartbeating the message;
//  4. when the outcome is unknown (timeout, 5xx, "already exists"), read the
//     record back and compare CIDs against every createdAt this draft used;
//  5. append DraftPublished, DraftAttemptFailed (retry_at) or DraftFailed,
//     then ack.
//
// A crash anywhere leads to redelivery; the redelivered message takes the
// claim over with the same createdAt, and step 4 makes the rewrite safe.
package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/metrics"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/timer"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Accounts hands out a PDS client for an account (pds.Sessions does).
type Accounts interface {
	Client(ctx context.Context, did syntax.DID) (pds.Client, error)
}

// Config wires a Publisher.
type Config struct {
	View     *projection.View
	Store    *events.Store
	Accounts Accounts
	Clock    clock.Clock  // default clock.Real
	Log      *slog.Logger // default slog.Default()
	Policy   Policy       // default DefaultPolicy
	Metrics  *metrics.Metrics
	// Budgets are the write points an account may spend per window; a
	// draft that would exceed one waits (default: the PDS's limits, 5,000
	// an hour and 35,000 a day), so one busy account is never rate-limited
	// by its PDS.
	Budgets []projection.Budget
	// Blobs holds the blobs records reference, uploaded before each write
	// and dropped after it; nil when alf keeps no blobs.
	Blobs *blob.Store
	// Content fetches the records of dynamic schedules; nil fails them.
	Content Fetcher

	// Durable is the consumer name all publishers share (default "publisher").
	Durable string
	// Workers is how many drafts are published at once (default 64).
	Workers int
	// AckWait is how long a message may go unacknowledged before it is
	// redelivered; the publisher heartbeats at a third of it (default 30 s).
	AckWait time.Duration
	// ClaimTimeout is the age after which a claim may be taken over by a
	// fresh delivery (default 2 min; keep it equal to the timer's).
	ClaimTimeout time.Duration
	// MaxAckPending bounds the messages delivered and not yet acked,
	// including those held until their due instant (default 20,000).
	MaxAckPending int
	// WriteTimeout bounds each PDS call (default 20 s).
	WriteTimeout time.Duration
	// ViewTimeout bounds the wait for the view to reach a message's version
	// (default 10 s); past it the message is retried later.
	ViewTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Policy.Backoff == nil {
		c.Policy = DefaultPolicy
	}
	if c.Durable == "" {
		c.Durable = "publisher"
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.ClaimTimeout <= 0 {
		c.ClaimTimeout = 2 * time.Minute
	}
	if c.Budgets == nil {
		c.Budgets = DefaultBudgets
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 20_000
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 20 * time.Second
	}
	if c.ViewTimeout <= 0 {
		c.ViewTimeout = 10 * time.Second
	}
	return c
}

// DefaultBudgets are Bluesky's PDS write limits per account.
var DefaultBudgets = []projection.Budget{
	{Points: 5_000, Window: time.Hour},
	{Points: 35_000, Window: 24 * time.Hour},
}

// Actor names the publisher in the events it appends.
const Actor = "alf:publisher"

// Publisher is the consumer service.
type Publisher struct {
	cfg Config

	mu       sync.Mutex
	cc       jetstream.ConsumeContext
	stopping bool
	held     map[clock.Timer]jetstream.Msg // messages waiting for their instant
	ctx      context.Context
	cancel   context.CancelFunc
	sem      chan struct{}
	wg       sync.WaitGroup // workers and held messages
	// dispatching is held while a message is dispatched, so Stop can wait
	// for a callback the consume context still runs after reporting closed.
	dispatching sync.Mutex
}

// New returns a publisher; Start it to consume.
func New(cfg Config) *Publisher {
	cfg = cfg.withDefaults()
	return &Publisher{cfg: cfg, sem: make(chan struct{}, cfg.Workers), held: make(map[clock.Timer]jetstream.Msg)}
}

// Start creates (or updates) the durable consumer and begins publishing.
func (p *Publisher) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cc != nil {
		return errors.New("publisher already started")
	}
	js := p.cfg.Store.JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamDue, jetstream.ConsumerConfig{
		Durable:       p.cfg.Durable,
		Description:   "publishes due drafts to PDSes",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: p.cfg.MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("publisher consumer: %w", err)
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	cc, err := cons.Consume(p.dispatch, jetstream.PullMaxMessages(p.cfg.Workers*2))
	if err != nil {
		p.cancel()
		return fmt.Errorf("publisher consume: %w", err)
	}
	p.cc = cc
	return nil
}

// Stop stops taking messages and waits for the publishes under way. Their
// messages are acked if they finished, or redelivered later if not.
func (p *Publisher) Stop() {
	p.mu.Lock()
	cc := p.cc
	p.cc = nil
	p.stopping = true
	for t, msg := range p.held {
		if t.Stop() { // not due yet: give it back for another publisher
			_ = msg.Nak()
			delete(p.held, t)
			p.wg.Done()
		}
	}
	p.mu.Unlock()
	if cc == nil {
		return
	}
	cc.Stop()
	<-cc.Closed()
	p.dispatching.Lock() // no dispatch under way or to come
	p.dispatching.Unlock()
	p.wg.Wait()
	p.cancel()
}

// dispatch takes a message from the consumer: a DraftDue emitted ahead of
// its instant is held until then, without a worker; the others go to a
// worker at once, waiting for a free one.
func (p *Publisher) dispatch(msg jetstream.Msg) {
	p.dispatching.Lock()
	defer p.dispatching.Unlock()
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		_ = msg.Nak()
		return
	}
	due, err := timer.DecodeDue(msg.Data())
	if err != nil {
		p.cfg.Log.Error("drop unreadable DraftDue", "err", err)
		_ = msg.Term()
		return
	}
	wait := due.GetDueAt().AsTime().Sub(p.cfg.Clock.Now())
	switch {
	case wait <= 0:
		p.work(msg, due)
	case wait > p.cfg.AckWait/2: // far ahead (clock skew?): ask again nearer the time
		_ = msg.NakWithDelay(wait - p.cfg.AckWait/4)
	default:
		p.hold(msg, due, wait)
	}
}

// hold hands the message to a worker at its due instant.
func (p *Publisher) hold(msg jetstream.Msg, due *eventsv1.DraftDue, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		_ = msg.Nak()
		return
	}
	p.wg.Add(1)
	var t clock.Timer
	t = p.cfg.Clock.AfterFunc(wait, func() {
		defer p.wg.Done()
		p.mu.Lock()
		delete(p.held, t)
		p.mu.Unlock()
		p.work(msg, due)
	})
	p.held[t] = msg
}

// work runs the protocol for msg on a worker, waiting for a free one.
func (p *Publisher) work(msg jetstream.Msg, due *eventsv1.DraftDue) {
	p.sem <- struct{}{}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.sem; p.wg.Done() }()
		p.handle(p.ctx, msg, due)
	}()
}

// handle runs the protocol for one DraftDue.
func (p *Publisher) handle(ctx context.Context, msg jetstream.Msg, due *eventsv1.DraftDue) {
	if err := p.waitView(ctx, due.Version); err != nil {
		p.cfg.Log.Warn("view behind DraftDue; retry later", "draft", due.DraftId, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	d, ok := p.cfg.View.Draft(due.DraftId)
	if !ok {
		_ = msg.Ack()
		return
	}
	delivered := uint64(1)
	if meta, err := msg.Metadata(); err == nil {
		delivered = meta.NumDelivered
	}
	claim, ok := p.decide(d, due, delivered)
	if !ok {
		_ = msg.Ack() // stale: the draft moved on
		return
	}
	if wait := p.overBudget(d); wait > 0 {
		p.cfg.Log.Info("account write budget spent; draft waits", "draft", d.ID, "wait", wait)
		_ = msg.NakWithDelay(wait)
		return
	}
	seq, err := p.appendClaim(ctx, d, claim)
	if errors.Is(err, events.ErrConflict) {
		_ = msg.Ack() // another publisher or a command got there first
		return
	}
	if err != nil {
		p.cfg.Log.Warn("claim failed; retry later", "draft", d.ID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	stop := p.heartbeat(msg)
	d, seq, fetched, err := p.fetchContent(ctx, d, claim, seq)
	if err != nil {
		stop()
		p.settleAppendError(msg, d, err)
		return
	}
	out := p.attemptUnless(ctx, d, claim, fetched)
	stop()
	if err := p.record(ctx, d, claim, seq, out); err != nil {
		p.settleAppendError(msg, d, err) // a conflict: taken over, the new holder records the outcome
		return
	}
	_ = msg.Ack()
}

// attemptUnless performs the write unless fetching its content failed.
func (p *Publisher) attemptUnless(ctx context.Context, d projection.Draft, c projection.Claim, fetched *outcome) outcome {
	if fetched != nil {
		return *fetched
	}
	return p.attempt(ctx, d, c)
}

// settleAppendError settles a message whose append failed after the claim:
// a conflict means another publisher took the draft over; anything else is
// retried.
func (p *Publisher) settleAppendError(msg jetstream.Msg, d projection.Draft, err error) {
	if errors.Is(err, events.ErrConflict) {
		_ = msg.Ack()
		return
	}
	p.cfg.Log.Warn("append after claim failed; redelivery will take over", "draft", d.ID, "err", err)
	_ = msg.NakWithDelay(time.Second)
}

func (p *Publisher) waitView(ctx context.Context, version uint64) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ViewTimeout)
	defer cancel()
	return p.cfg.View.WaitFor(ctx, version)
}

// decide whether this delivery may claim the draft, and with what claim.
func (p *Publisher) decide(d projection.Draft, due *eventsv1.DraftDue, delivered uint64) (projection.Claim, bool) {
	now := p.cfg.Clock.Now()
	switch {
	case d.Status == projection.StatusScheduled && d.Version == due.Version:
		p.cfg.Metrics.Late(now.Sub(due.GetDueAt().AsTime()))
		return projection.Claim{
			Attempt:    d.Attempts + 1,
			WriteTime:  now.UTC().Truncate(time.Millisecond),
			DueVersion: due.Version,
		}, true
	case d.Status == projection.StatusPublishing && d.Claim != nil && d.Claim.DueVersion == due.Version:
		// The message of a claim whose publisher stopped: take it over, with
		// the same createdAt so a finished write reads back as ours.
		if delivered < 2 && now.Sub(d.Claim.At) < p.cfg.ClaimTimeout {
			return projection.Claim{}, false
		}
		c := *d.Claim
		return c, true
	}
	return projection.Claim{}, false
}

// overBudget is how long a fresh claim must wait for the account's write
// budgets (0: none). Takeovers never wait: their write may be done already.
func (p *Publisher) overBudget(d projection.Draft) time.Duration {
	if d.Status != projection.StatusScheduled {
		return 0
	}
	now := p.cfg.Clock.Now()
	return p.cfg.View.WriteAt(d.DID, projection.DraftPoints(d), now, p.cfg.Budgets...).Sub(now)
}

func (p *Publisher) appendClaim(ctx context.Context, d projection.Draft, c projection.Claim) (uint64, error) {
	ev := &eventsv1.DraftPublishing{
		DraftId:    d.ID,
		Attempt:    c.Attempt,
		WriteTime:  timestamppb.New(c.WriteTime),
		DueVersion: c.DueVersion,
		Takeover:   d.Status == projection.StatusPublishing,
	}
	env := events.New(Actor, p.cfg.Clock.Now(), ev)
	return p.cfg.Store.Append(ctx, events.DraftSubject(d.DID, d.ID), d.Version, env)
}

// heartbeat tells JetStream the message is still being worked on, every
// third of the ack wait, until the returned stop is called.
func (p *Publisher) heartbeat(msg jetstream.Msg) (stop func()) {
	every := p.cfg.AckWait / 3
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // the callback may not run before t is set
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = msg.InProgress()
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// record appends the attempt's outcome at the claim's sequence.
func (p *Publisher) record(ctx context.Context, d projection.Draft, c projection.Claim, claimSeq uint64, out outcome) error {
	var ev proto.Message
	switch out.kind {
	case published:
		ev = &eventsv1.DraftPublished{DraftId: d.ID, Cid: out.cid, Rev: out.rev, WriteTime: timestamppb.New(c.WriteTime)}
	case retry:
		ev = &eventsv1.DraftAttemptFailed{DraftId: d.ID, Attempt: c.Attempt, Reason: out.reason, RetryAt: timestamppb.New(out.retryAt)}
	default:
		ev = &eventsv1.DraftFailed{DraftId: d.ID, Attempt: c.Attempt, Reason: out.reason}
	}
	env := events.New(Actor, p.cfg.Clock.Now(), ev)
	_, err := p.cfg.Store.Append(ctx, events.DraftSubject(d.DID, d.ID), claimSeq, env)
	if err != nil {
		return err
	}
	p.cfg.Metrics.Published(out.kind.String())
	if out.revoked {
		p.revoke(ctx, d.DID)
	}
	if out.kind == published {
		p.dropBlobs(ctx, d)
	}
	return nil
}

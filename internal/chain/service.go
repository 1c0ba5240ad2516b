package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// The event types that may call for a step: the end of a draft, and every
// schedule event. (A DraftCreated needs none: the chainer that appended it
// takes its next step right after, in the same Advance, and so cancels it
// if a pause or delete dropped it meanwhile.)
var draftTypes = map[string]bool{
	"DraftPublished": true,
	"DraftFailed":    true,
	"DraftCancelled": true,
}

// Start creates (or updates) the durable consumer, advances every schedule
// that may have work left (a step missed while nothing ran), and begins
// consuming.
func (c *Chainer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cc != nil {
		return errors.New("chainer already started")
	}
	js := c.cfg.Store.JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamEvents, jetstream.ConsumerConfig{
		Durable:        c.cfg.Durable,
		Description:    "queues the next occurrence of recurring schedules",
		FilterSubjects: []string{events.DraftsFilter, events.SchedulesFilter},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxDeliver:     -1,
		MaxAckPending:  c.cfg.MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("chainer consumer: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, id := range c.cfg.View.ScheduleIDs() {
		if err := c.Advance(ctx, id); err != nil {
			c.cfg.Log.Warn("advance schedule at start", "schedule", id, "err", err)
		}
	}
	cc, err := cons.Consume(c.dispatch, jetstream.PullMaxMessages(2*c.cfg.Workers))
	if err != nil {
		c.cancel()
		return fmt.Errorf("chainer consume: %w", err)
	}
	c.cc = cc
	return nil
}

// Stop stops taking events and waits for the steps under way. Events not
// yet handled are redelivered later, to this consumer or another chainer.
func (c *Chainer) Stop() {
	c.mu.Lock()
	cc := c.cc
	c.cc = nil
	c.mu.Unlock()
	if cc == nil {
		return
	}
	cc.Stop()
	<-cc.Closed()
	c.dispatching.Lock() // no dispatch under way or to come
	c.dispatching.Unlock()
	c.wg.Wait()
	c.cancel()
}

// dispatch acks at once the events that cannot call for a step and hands
// the others to a worker.
func (c *Chainer) dispatch(msg jetstream.Msg) {
	c.dispatching.Lock()
	defer c.dispatching.Unlock()
	typ := msg.Headers().Get(events.HeaderType)
	if typ != "" && !draftTypes[typ] && !events.IsScheduleSubject(msg.Subject()) {
		_ = msg.Ack()
		return
	}
	c.sem <- struct{}{}
	c.wg.Add(1)
	go func() {
		defer func() { <-c.sem; c.wg.Done() }()
		c.handle(c.ctx, msg)
	}()
}

// handle advances the schedule an event concerns, once the view shows it.
func (c *Chainer) handle(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	if err := c.waitView(ctx, meta.Sequence.Stream); err != nil {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	id := c.scheduleOf(msg)
	if id == "" {
		_ = msg.Ack()
		return
	}
	if err := c.Advance(ctx, id); err != nil {
		c.cfg.Log.Warn("advance schedule; will retry", "schedule", id, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
}

// scheduleOf is the schedule an event concerns ("" for none).
func (c *Chainer) scheduleOf(msg jetstream.Msg) string {
	env, err := events.Decode(msg.Data())
	if err != nil {
		return ""
	}
	if id := events.ScheduleIDOf(env); id != "" {
		return id
	}
	d, ok := c.cfg.View.Draft(events.DraftIDOf(env))
	if !ok || d.Occurrence == nil {
		return ""
	}
	return d.Occurrence.ScheduleID
}

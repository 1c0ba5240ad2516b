package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Feed follows ALF_EVENTS from a sequence and hands every event, in order, to
// one handler: the way each process keeps its projections current. It is a
// service: Start it once, Stop it when done.
type Feed struct {
	js     jetstream.JetStream
	handle func(Event)
	log    *slog.Logger

	mu sync.Mutex
	cc jetstream.ConsumeContext

	// handling is held while the handler runs, so Stop can wait for it
	// (the consume context may report itself closed while a callback is
	// still running); stopped drops deliveries that come after Stop.
	handling sync.Mutex
	stopped  bool
}

// NewFeed returns a feed that calls handle for each event. handle runs on the
// feed's own goroutine, one event at a time.
func NewFeed(js jetstream.JetStream, log *slog.Logger, handle func(Event)) *Feed {
	if log == nil {
		log = slog.Default()
	}
	return &Feed{js: js, handle: handle, log: log}
}

// Start begins delivery at sequence from (1 = the start of the log).
func (f *Feed) Start(ctx context.Context, from uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cc != nil {
		return errors.New("feed already started")
	}
	f.handling.Lock()
	f.stopped = false
	f.handling.Unlock()
	if from == 0 {
		from = 1
	}
	cons, err := f.js.OrderedConsumer(ctx, StreamEvents, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return fmt.Errorf("feed from %d: %w", from, err)
	}
	cc, err := cons.Consume(f.deliver, jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("feed consume: %w", err)
	}
	f.cc = cc
	return nil
}

func (f *Feed) deliver(msg jetstream.Msg) {
	f.handling.Lock()
	defer f.handling.Unlock()
	if f.stopped {
		return
	}
	ev, err := decodeMsg(msg)
	if err != nil {
		// An event this build cannot read is handed on without its envelope,
		// loudly: stopping here would freeze every projection behind it.
		f.log.Error("unreadable event", "seq", ev.Seq, "subject", msg.Subject(), "err", err)
		if ev.Seq == 0 {
			return
		}
		ev.Envelope = nil
	}
	f.handle(ev)
}

// Stop ends delivery and waits until the handler is no longer running.
func (f *Feed) Stop() {
	f.mu.Lock()
	cc := f.cc
	f.cc = nil
	f.mu.Unlock()
	if cc == nil {
		return
	}
	cc.Stop()
	<-cc.Closed()
	f.handling.Lock() // waits for a handler still running
	f.stopped = true
	f.handling.Unlock()
}

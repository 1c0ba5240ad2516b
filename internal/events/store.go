package events

import (
	"context"
	"errors"
	"fmt"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// ErrConflict reports that the aggregate moved on since the version a command
// was decided on: reload and decide again.
var ErrConflict = errors.New("aggregate changed concurrently")

// Store appends to and reads from ALF_EVENTS.
type Store struct {
	js jetstream.JetStream
}

// NewStore returns a store on a provisioned JetStream.
func NewStore(js jetstream.JetStream) *Store {
	return &Store{js: js}
}

// JetStream is the context the store works on.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Append stores env on subject if the subject's last sequence is still
// expected (0 for a new aggregate), and returns the new sequence. A moved
// aggregate gives ErrConflict.
func (s *Store) Append(ctx context.Context, subject string, expected uint64, env *eventsv1.Envelope) (uint64, error) {
	return s.append(ctx, subject, "", expected, env)
}

// AppendGuarded stores env on subject if the last sequence of every subject
// matching guard (a filter such as AccountDraftsFilter) is still expected:
// a decision about several aggregates at once, such as an account's draft
// count, holds when the event is stored.
func (s *Store) AppendGuarded(ctx context.Context, subject, guard string, expected uint64, env *eventsv1.Envelope) (uint64, error) {
	return s.append(ctx, subject, guard, expected, env)
}

func (s *Store) append(ctx context.Context, subject, guard string, expected uint64, env *eventsv1.Envelope) (uint64, error) {
	data, err := proto.Marshal(env)
	if err != nil {
		return 0, fmt.Errorf("append %s: encode: %w", TypeOf(env), err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderType, TypeOf(env))
	expect := jetstream.WithExpectLastSequencePerSubject(expected)
	if guard != "" {
		expect = jetstream.WithExpectLastSequenceForSubject(expected, guard)
	}
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(StreamEvents), expect, jetstream.WithMsgID(env.Id))
	if isWrongLastSequence(err) {
		if seq, ok := s.stored(ctx, subject, env.GetId()); ok {
			return seq, nil // a retry of an append that was stored
		}
		return 0, fmt.Errorf("append %s at version %d: %w", TypeOf(env), expected, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("append %s: %w", TypeOf(env), err)
	}
	return ack.Sequence, nil
}

// stored reports the sequence of the subject's newest event if it is the
// envelope with this id: the first try of a retried append was stored.
func (s *Store) stored(ctx context.Context, subject, id string) (uint64, bool) {
	st, err := s.js.Stream(ctx, StreamEvents)
	if err != nil {
		return 0, false
	}
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil || msg.Header.Get(jetstream.MsgIDHeader) != id {
		return 0, false
	}
	return msg.Sequence, true
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// LastOfSubject is the sequence of the newest event on subject (0 when it
// has none).
func (s *Store) LastOfSubject(ctx context.Context, subject string) (uint64, error) {
	st, err := s.js.Stream(ctx, StreamEvents)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", StreamEvents, err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last event of %s: %w", subject, err)
	}
	return msg.Sequence, nil
}

// LastSeq is the sequence of the newest event in the log (0 when empty).
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	st, err := s.js.Stream(ctx, StreamEvents)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", StreamEvents, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", StreamEvents, err)
	}
	return info.State.LastSeq, nil
}

// Replay calls fn for every event from sequence from (1 = the start) up to
// the newest event at the time of the call, in order, optionally limited to
// some subject filters (e.g. AccountFilters). It stops at fn's first error.
func (s *Store) Replay(ctx context.Context, from uint64, filters []string, fn func(Event) error) error {
	last, err := s.LastSeq(ctx)
	if err != nil {
		return err
	}
	if from == 0 {
		from = 1
	}
	if last < from {
		return nil
	}
	cons, err := s.js.OrderedConsumer(ctx, StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	})
	if err != nil {
		return fmt.Errorf("replay from %d: %w", from, err)
	}
	for {
		// A filtered replay may have no event at or after last: ask with a
		// short wait and stop when nothing more comes.
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			ev, err := decodeMsg(msg)
			if err != nil && ev.Seq == 0 {
				return err
			}
			// An event this build cannot read is handed on without its
			// envelope, as Feed does (ev.Envelope is nil).
			if err := fn(ev); err != nil {
				return err
			}
			if ev.Seq >= last {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("replay: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

func decodeMsg(msg jetstream.Msg) (Event, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return Event{}, fmt.Errorf("event metadata: %w", err)
	}
	ev := Event{Seq: meta.Sequence.Stream, Subject: msg.Subject()}
	env, err := Decode(msg.Data())
	if err != nil {
		return ev, fmt.Errorf("event %d: %w", ev.Seq, err)
	}
	ev.Envelope = env
	return ev, nil
}

// PurgeAccount removes every event of one account from the log (the
// subjects of AccountFilters) and its pending DraftDue messages from
// ALF_DUE. Appends decided on a purged aggregate's version fail with
// ErrConflict afterwards, so work under way cannot write the account back.
func (s *Store) PurgeAccount(ctx context.Context, did string) error {
	st, err := s.js.Stream(ctx, StreamEvents)
	if err != nil {
		return fmt.Errorf("purge account: stream %s: %w", StreamEvents, err)
	}
	for _, f := range AccountFilters(did) {
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(f)); err != nil {
			return fmt.Errorf("purge account events: %w", err)
		}
	}
	due, err := s.js.Stream(ctx, StreamDue)
	if err != nil {
		return fmt.Errorf("purge account: stream %s: %w", StreamDue, err)
	}
	if err := due.Purge(ctx, jetstream.WithPurgeSubject(DueSubject(did))); err != nil {
		return fmt.Errorf("purge account due messages: %w", err)
	}
	return nil
}

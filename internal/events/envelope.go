package events

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Header names set on every appended event.
const (
	// HeaderType carries the event's type (e.g. "DraftCreated"), so tools can
	// filter without decoding the payload.
	HeaderType = "Alf-Event"
)

// Event is an envelope as stored in the stream. Envelope is nil for an event
// this build cannot decode (it still advances the sequence).
type Event struct {
	Seq      uint64
	Subject  string
	Envelope *eventsv1.Envelope
}

// Type is the event's type name, e.g. "DraftCreated".
func (e Event) Type() string { return TypeOf(e.Envelope) }

// New builds an envelope with a fresh id around one event message of the
// catalogue (e.g. *eventsv1.DraftCreated). It panics on a message that is not
// an event: that is a programming error.
func New(actor string, at time.Time, event proto.Message) *eventsv1.Envelope {
	env := &eventsv1.Envelope{
		Id:         NewID(),
		OccurredAt: timestamppb.New(at),
		Actor:      actor,
	}
	switch e := event.(type) {
	case *eventsv1.DraftCreated:
		env.Event = &eventsv1.Envelope_DraftCreated{DraftCreated: e}
	case *eventsv1.DraftScheduled:
		env.Event = &eventsv1.Envelope_DraftScheduled{DraftScheduled: e}
	case *eventsv1.DraftUnscheduled:
		env.Event = &eventsv1.Envelope_DraftUnscheduled{DraftUnscheduled: e}
	case *eventsv1.DraftCancelled:
		env.Event = &eventsv1.Envelope_DraftCancelled{DraftCancelled: e}
	case *eventsv1.DraftPublishRequested:
		env.Event = &eventsv1.Envelope_DraftPublishRequested{DraftPublishRequested: e}
	case *eventsv1.DraftPublishing:
		env.Event = &eventsv1.Envelope_DraftPublishing{DraftPublishing: e}
	case *eventsv1.DraftPublished:
		env.Event = &eventsv1.Envelope_DraftPublished{DraftPublished: e}
	case *eventsv1.DraftAttemptFailed:
		env.Event = &eventsv1.Envelope_DraftAttemptFailed{DraftAttemptFailed: e}
	case *eventsv1.DraftFailed:
		env.Event = &eventsv1.Envelope_DraftFailed{DraftFailed: e}
	case *eventsv1.DraftUpdated:
		env.Event = &eventsv1.Envelope_DraftUpdated{DraftUpdated: e}
	case *eventsv1.DraftRetried:
		env.Event = &eventsv1.Envelope_DraftRetried{DraftRetried: e}
	case *eventsv1.DraftContentFetched:
		env.Event = &eventsv1.Envelope_DraftContentFetched{DraftContentFetched: e}
	case *eventsv1.ScheduleCreated:
		env.Event = &eventsv1.Envelope_ScheduleCreated{ScheduleCreated: e}
	case *eventsv1.ScheduleUpdated:
		env.Event = &eventsv1.Envelope_ScheduleUpdated{ScheduleUpdated: e}
	case *eventsv1.SchedulePaused:
		env.Event = &eventsv1.Envelope_SchedulePaused{SchedulePaused: e}
	case *eventsv1.ScheduleResumed:
		env.Event = &eventsv1.Envelope_ScheduleResumed{ScheduleResumed: e}
	case *eventsv1.ScheduleOccurrenceQueued:
		env.Event = &eventsv1.Envelope_ScheduleOccurrenceQueued{ScheduleOccurrenceQueued: e}
	case *eventsv1.ScheduleCompleted:
		env.Event = &eventsv1.Envelope_ScheduleCompleted{ScheduleCompleted: e}
	case *eventsv1.ScheduleCancelled:
		env.Event = &eventsv1.Envelope_ScheduleCancelled{ScheduleCancelled: e}
	case *eventsv1.ScheduleErrored:
		env.Event = &eventsv1.Envelope_ScheduleErrored{ScheduleErrored: e}
	case *eventsv1.AccountAuthorized:
		env.Event = &eventsv1.Envelope_AccountAuthorized{AccountAuthorized: e}
	case *eventsv1.AccountRevoked:
		env.Event = &eventsv1.Envelope_AccountRevoked{AccountRevoked: e}
	case *eventsv1.AccountDeleted:
		env.Event = &eventsv1.Envelope_AccountDeleted{AccountDeleted: e}
	default:
		panic(fmt.Sprintf("events.New: %T is not an event", event))
	}
	return env
}

// NewID returns 128 random bits as lowercase base32.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(tokenEncoding.EncodeToString(b[:]))
}

// TypeOf names the event held by an envelope.
func TypeOf(env *eventsv1.Envelope) string {
	if env == nil || env.Event == nil {
		return ""
	}
	name := fmt.Sprintf("%T", env.Event) // *eventsv1.Envelope_DraftCreated
	return name[strings.LastIndexByte(name, '_')+1:]
}

// Decode parses a stored envelope.
func Decode(data []byte) (*eventsv1.Envelope, error) {
	env := new(eventsv1.Envelope)
	if err := proto.Unmarshal(data, env); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if env.Event == nil {
		return nil, fmt.Errorf("decode event %s: no event in envelope", env.Id)
	}
	return env, nil
}

// DraftIDOf is the draft a draft event belongs to ("" for other events).
func DraftIDOf(env *eventsv1.Envelope) string {
	switch e := env.Event.(type) {
	case *eventsv1.Envelope_DraftCreated:
		return e.DraftCreated.GetDraftId()
	case *eventsv1.Envelope_DraftScheduled:
		return e.DraftScheduled.GetDraftId()
	case *eventsv1.Envelope_DraftUnscheduled:
		return e.DraftUnscheduled.GetDraftId()
	case *eventsv1.Envelope_DraftCancelled:
		return e.DraftCancelled.GetDraftId()
	case *eventsv1.Envelope_DraftPublishRequested:
		return e.DraftPublishRequested.GetDraftId()
	case *eventsv1.Envelope_DraftPublishing:
		return e.DraftPublishing.GetDraftId()
	case *eventsv1.Envelope_DraftPublished:
		return e.DraftPublished.GetDraftId()
	case *eventsv1.Envelope_DraftAttemptFailed:
		return e.DraftAttemptFailed.GetDraftId()
	case *eventsv1.Envelope_DraftFailed:
		return e.DraftFailed.GetDraftId()
	case *eventsv1.Envelope_DraftUpdated:
		return e.DraftUpdated.GetDraftId()
	case *eventsv1.Envelope_DraftRetried:
		return e.DraftRetried.GetDraftId()
	case *eventsv1.Envelope_DraftContentFetched:
		return e.DraftContentFetched.GetDraftId()
	}
	return ""
}

// ScheduleIDOf is the schedule a schedule event belongs to ("" for other
// events).
func ScheduleIDOf(env *eventsv1.Envelope) string {
	switch e := env.Event.(type) {
	case *eventsv1.Envelope_ScheduleCreated:
		return e.ScheduleCreated.GetScheduleId()
	case *eventsv1.Envelope_ScheduleUpdated:
		return e.ScheduleUpdated.GetScheduleId()
	case *eventsv1.Envelope_SchedulePaused:
		return e.SchedulePaused.GetScheduleId()
	case *eventsv1.Envelope_ScheduleResumed:
		return e.ScheduleResumed.GetScheduleId()
	case *eventsv1.Envelope_ScheduleOccurrenceQueued:
		return e.ScheduleOccurrenceQueued.GetScheduleId()
	case *eventsv1.Envelope_ScheduleCompleted:
		return e.ScheduleCompleted.GetScheduleId()
	case *eventsv1.Envelope_ScheduleCancelled:
		return e.ScheduleCancelled.GetScheduleId()
	case *eventsv1.Envelope_ScheduleErrored:
		return e.ScheduleErrored.GetScheduleId()
	}
	return ""
}

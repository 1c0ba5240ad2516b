package projection

import (
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
)

// ScheduleStatus is where a recurring schedule is.
type ScheduleStatus string

// Schedule statuses. Only an active schedule queues occurrences; a paused
// one can be resumed, as can a completed or errored one with a new rule; a
// cancelled (deleted) one is over.
const (
	ScheduleActive    ScheduleStatus = "active"
	SchedulePaused    ScheduleStatus = "paused"
	ScheduleCancelled ScheduleStatus = "cancelled"
	ScheduleCompleted ScheduleStatus = "completed"
	ScheduleError     ScheduleStatus = "error"
)

// Occurrence ties a draft to one occurrence of a schedule.
type Occurrence struct {
	ScheduleID string
	At         time.Time // the occurrence's instant
	Date       string    // its series date, YYYY-MM-DD in the rule's zone
	FireCount  uint32    // the fireCount a content URL is given
	ContentURL string    // where a dynamic schedule's record is fetched
}

func occurrence(o *eventsv1.Occurrence) *Occurrence {
	if o == nil {
		return nil
	}
	return &Occurrence{
		ScheduleID: o.GetScheduleId(),
		At:         o.GetAt().AsTime(),
		Date:       o.GetDate(),
		FireCount:  o.GetFireCount(),
		ContentURL: o.GetContentUrl(),
	}
}

// Queued is the occurrence a schedule queued last.
type Queued struct {
	DraftID   string
	URI       string
	Lifecycle uint32
	At        time.Time
	Date      string
}

// Schedule is the state of one recurring schedule.
type Schedule struct {
	ID         string
	DID        string
	Collection string
	Rule       []byte // rule JSON
	Timezone   string
	Record     []byte // JSON; nil with a ContentURL
	ContentURL string
	Status     ScheduleStatus
	CreatedAt  time.Time
	UpdatedAt  time.Time

	// Pending is the occurrence queued last, until a pause, an update or
	// the end of the schedule drops it. Its draft may have ended already:
	// then the next occurrence is due to be queued.
	Pending *Queued
	// Dropped is the draft of the last dropped occurrence, to be cancelled
	// if it has not started publishing.
	Dropped string
	// Cursor: the next occurrence is found strictly after the later of
	// Cursor and LastDone (creation, resume and requeue instants).
	Cursor time.Time

	// Derived from the schedule's drafts.
	FireCount     uint32    // occurrences published
	LastFiredAt   time.Time // when the last one was published
	LastDone      time.Time // instant of the latest occurrence that ended
	LastFailure   string    // why the last occurrence that did not publish failed, or the schedule stopped
	LastFailureAt time.Time // that occurrence's instant (or when the schedule stopped)

	// Version is the stream sequence of the schedule's last event.
	Version uint64
}

// After is the instant the next occurrence is found strictly after.
func (s Schedule) After() time.Time {
	if s.LastDone.After(s.Cursor) {
		return s.LastDone
	}
	return s.Cursor
}

// FoldSchedule applies one event of a schedule's subject to its state and
// returns the new state. The zero Schedule is the state before
// ScheduleCreated.
func FoldSchedule(s Schedule, ev events.Event) Schedule {
	env := ev.Envelope
	if env == nil {
		return s
	}
	at := env.GetOccurredAt().AsTime()
	switch e := env.Event.(type) {
	case *eventsv1.Envelope_ScheduleCreated:
		c := e.ScheduleCreated
		s = Schedule{
			ID: c.GetScheduleId(), DID: c.GetDid(), Collection: c.GetCollection(),
			Rule: c.GetRule(), Timezone: c.GetTimezone(), Record: c.GetRecord(), ContentURL: c.GetContentUrl(),
			Status: ScheduleActive, CreatedAt: at, Cursor: at,
		}
	case *eventsv1.Envelope_ScheduleUpdated:
		s = scheduleUpdated(s, e.ScheduleUpdated, at)
	case *eventsv1.Envelope_SchedulePaused:
		s = dropPending(s)
		s.Status = SchedulePaused
	case *eventsv1.Envelope_ScheduleResumed:
		s = dropPending(s)
		s.Status = ScheduleActive
		s.Cursor = later(s.Cursor, at)
	case *eventsv1.Envelope_ScheduleOccurrenceQueued:
		q := e.ScheduleOccurrenceQueued
		s.Pending = &Queued{DraftID: q.GetDraftId(), URI: q.GetUri(), Lifecycle: q.GetLifecycle(), At: q.GetAt().AsTime(), Date: q.GetDate()}
	case *eventsv1.Envelope_ScheduleCompleted:
		s = dropPending(s)
		s.Status = ScheduleCompleted
	case *eventsv1.Envelope_ScheduleCancelled:
		s = dropPending(s)
		s.Status = ScheduleCancelled
	case *eventsv1.Envelope_ScheduleErrored:
		s = dropPending(s)
		s.Status = ScheduleError
		s.LastFailure, s.LastFailureAt = e.ScheduleErrored.GetReason(), at
	default:
		return s
	}
	s.UpdatedAt = at
	s.Version = ev.Seq
	return s
}

func scheduleUpdated(s Schedule, e *eventsv1.ScheduleUpdated, at time.Time) Schedule {
	if len(e.GetRule()) > 0 {
		s.Rule = e.GetRule()
	}
	if e.Timezone != nil {
		s.Timezone = e.GetTimezone()
	}
	if len(e.GetRecord()) > 0 {
		s.Record, s.ContentURL = e.GetRecord(), ""
	}
	if e.ContentUrl != nil {
		if s.ContentURL = e.GetContentUrl(); s.ContentURL != "" {
			s.Record = nil
		}
	}
	if e.GetRequeue() {
		s = dropPending(s)
		s.Cursor = later(s.Cursor, at)
	}
	return s
}

// dropPending forgets the queued occurrence; its draft is to be cancelled.
func dropPending(s Schedule) Schedule {
	if s.Pending != nil {
		s.Dropped = s.Pending.DraftID
		s.Pending = nil
	}
	return s
}

// ObserveDraft folds the end of one of the schedule's drafts into the
// schedule: how many occurrences were published, the last failure, and
// the latest occurrence that ended (a published or failed one, or the
// pending one cancelled by its owner), after which the next is found.
func ObserveDraft(s Schedule, prev, d Draft) Schedule {
	o := d.Occurrence
	if o == nil || !d.Status.Terminal() || prev.Status.Terminal() {
		return s
	}
	pending := s.Pending != nil && s.Pending.DraftID == d.ID
	switch {
	case d.Status == StatusPublished:
		s.FireCount++
		s.LastFiredAt = d.PublishedAt
	case d.Status == StatusFailed:
		s.LastFailure, s.LastFailureAt = d.FailureReason, o.At
	case pending: // cancelled by its owner: the occurrence is skipped
		s.LastFailure, s.LastFailureAt = "the occurrence's draft was cancelled", o.At
	default: // a dropped occurrence: it never happened
		return s
	}
	s.LastDone = later(s.LastDone, o.At)
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

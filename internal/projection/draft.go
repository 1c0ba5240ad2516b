// Package projection folds alf's events into read models: the state of each
// draft and account, kept in memory in a View indexed by URI, account and
// status, with WaitFor so a command's reply reflects its own write.
//
// Folds are pure functions of (state, event); a View applies them in log
// order and is fed by an events.Feed:
//
//	view := projection.NewView()
//	feed := events.NewFeed(js, log, view.Apply)
//	feed.Start(ctx, 1)
//	seq, _ := store.Append(ctx, subject, 0, env)
//	view.WaitFor(ctx, seq) // the view now shows the append
package projection

import (
	"slices"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
)

// Status is where a draft is in its lifecycle.
type Status string

// Draft statuses. Active drafts can still change; terminal ones cannot.
const (
	StatusDraft      Status = "draft"
	StatusScheduled  Status = "scheduled"
	StatusPublishing Status = "publishing"
	StatusPublished  Status = "published"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
)

// Terminal reports whether no further change is possible.
func (s Status) Terminal() bool {
	return s == StatusPublished || s == StatusFailed || s == StatusCancelled
}

// Claim is a publisher's hold on a draft while it writes to the PDS.
type Claim struct {
	Attempt    uint32
	WriteTime  time.Time // the createdAt written for this attempt
	DueVersion uint64    // the version the DraftDue named
	At         time.Time // when the claim was made
}

// Draft is the state of one draft lifecycle.
type Draft struct {
	ID         string
	URI        string
	DID        string
	Collection string
	Rkey       string
	Action     eventsv1.Action
	Record     []byte // the client's JSON; nil for deletes and batches
	// Writes are the writes of an ACTION_BATCH draft, in order.
	Writes    []*eventsv1.BatchWrite
	CID       string
	Lifecycle uint32
	// TriggerHash is the HMAC of the draft's trigger key ("" without one);
	// TriggerFired is set once the trigger was used.
	TriggerHash  string
	TriggerFired bool
	// Occurrence is set on the drafts of a recurring schedule.
	Occurrence *Occurrence

	Status      Status
	ScheduledAt time.Time // when it is (or was last) due; zero when never scheduled
	DueAt       time.Time // when the timer must emit it; zero unless scheduled
	CreatedAt   time.Time
	UpdatedAt   time.Time
	PublishedAt time.Time

	Attempts      uint32
	FailureReason string
	Claim         *Claim      // set while publishing
	WriteTimes    []time.Time // createdAt of every attempt so far, for read-back
	PublishedCID  string
	Rev           string

	// Version is the stream sequence of the draft's last event: the expected
	// sequence for the next append to it.
	Version uint64
}

// Fold applies one event of the draft's subject to its state and returns the
// new state. The zero Draft is the state before DraftCreated. d is not
// modified.
func Fold(d Draft, ev events.Event) Draft {
	env := ev.Envelope
	if env == nil {
		return d
	}
	at := env.GetOccurredAt().AsTime()
	switch e := env.Event.(type) {
	case *eventsv1.Envelope_DraftCreated:
		d = created(e.DraftCreated, at)
	case *eventsv1.Envelope_DraftUpdated:
		d = updated(d, e.DraftUpdated)
	case *eventsv1.Envelope_DraftContentFetched:
		d.Record, d.CID = e.DraftContentFetched.GetRecord(), e.DraftContentFetched.GetCid()
	case *eventsv1.Envelope_DraftRetried:
		d.Status = StatusScheduled
		d.DueAt = at
		d.Attempts = 0
		d.FailureReason = ""
	case *eventsv1.Envelope_DraftScheduled:
		d.Status = StatusScheduled
		d.ScheduledAt = e.DraftScheduled.GetScheduledAt().AsTime()
		d.DueAt = d.ScheduledAt
	case *eventsv1.Envelope_DraftUnscheduled:
		d.Status = StatusDraft
		d.ScheduledAt, d.DueAt = time.Time{}, time.Time{}
	case *eventsv1.Envelope_DraftCancelled:
		d.Status = StatusCancelled
		d.DueAt = time.Time{}
	case *eventsv1.Envelope_DraftPublishRequested:
		d.Status = StatusScheduled
		d.DueAt = at
		d.TriggerFired = d.TriggerFired || e.DraftPublishRequested.GetTrigger()
	case *eventsv1.Envelope_DraftPublishing:
		d = claimed(d, e.DraftPublishing, at)
	case *eventsv1.Envelope_DraftPublished:
		d.Status = StatusPublished
		d.PublishedAt = at
		d.PublishedCID = e.DraftPublished.GetCid()
		d.Rev = e.DraftPublished.GetRev()
		d.FailureReason = ""
		d.Claim, d.DueAt = nil, time.Time{}
	case *eventsv1.Envelope_DraftAttemptFailed:
		d.Status = StatusScheduled
		d.ScheduledAt = e.DraftAttemptFailed.GetRetryAt().AsTime()
		d.DueAt = d.ScheduledAt
		d.FailureReason = e.DraftAttemptFailed.GetReason()
		d.Claim = nil
	case *eventsv1.Envelope_DraftFailed:
		d.Status = StatusFailed
		d.FailureReason = e.DraftFailed.GetReason()
		d.Claim, d.DueAt = nil, time.Time{}
	default:
		return d
	}
	d.UpdatedAt = at
	d.Version = ev.Seq
	return d
}

func created(e *eventsv1.DraftCreated, at time.Time) Draft {
	d := Draft{
		ID:          e.GetDraftId(),
		URI:         e.GetUri(),
		DID:         e.GetDid(),
		Collection:  e.GetCollection(),
		Rkey:        e.GetRkey(),
		Action:      e.GetAction(),
		Record:      e.GetRecord(),
		CID:         e.GetCid(),
		Lifecycle:   e.GetLifecycle(),
		TriggerHash: e.GetTriggerHash(),
		Writes:      e.GetWrites(),
		Occurrence:  occurrence(e.GetOccurrence()),
		Status:      StatusDraft,
		CreatedAt:   at,
	}
	if e.ScheduledAt != nil {
		d.Status = StatusScheduled
		d.ScheduledAt = e.GetScheduledAt().AsTime()
		d.DueAt = d.ScheduledAt
	}
	return d
}

func updated(d Draft, e *eventsv1.DraftUpdated) Draft {
	if len(e.GetRecord()) > 0 {
		d.Record, d.CID = e.GetRecord(), e.GetCid()
	}
	if e.ScheduledAt != nil {
		d.Status = StatusScheduled
		d.ScheduledAt = e.GetScheduledAt().AsTime()
		d.DueAt = d.ScheduledAt
	}
	return d
}

func claimed(d Draft, e *eventsv1.DraftPublishing, at time.Time) Draft {
	wt := e.GetWriteTime().AsTime()
	d.Status = StatusPublishing
	d.DueAt = time.Time{}
	d.Attempts = e.GetAttempt()
	d.Claim = &Claim{Attempt: e.GetAttempt(), WriteTime: wt, DueVersion: e.GetDueVersion(), At: at}
	if !slices.ContainsFunc(d.WriteTimes, wt.Equal) {
		d.WriteTimes = append(slices.Clip(d.WriteTimes), wt)
	}
	return d
}

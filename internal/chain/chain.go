// Package chain keeps recurring schedules going. Each occurrence of a
// schedule is a draft; when one ends (published, failed, or cancelled by its
// owner) the next is queued, until the rule has no more occurrences and the
// schedule is completed.
//
// A schedule is brought up to date by Advance, which looks at the schedule
// and its queued draft in the view and takes the one step they call for:
//
//   - an active schedule with nothing queued, or whose queued draft ended:
//     append ScheduleOccurrenceQueued (at the schedule's version) for the
//     next occurrence, then the occurrence's DraftCreated (at version 0 of
//     its subject), or ScheduleCompleted when there is none;
//   - a queued occurrence whose DraftCreated is missing (a crash between
//     the two appends): append it;
//   - a dropped occurrence (pause, update, delete) whose draft has not
//     started publishing: cancel it.
//
// Every step is appended at the version it was decided on, so replays,
// duplicate deliveries and chainers running side by side never queue one
// occurrence twice. The next occurrence is found strictly after the
// occurrence that ended (not after the clock), so publishing one early
// never queues it again; one overdue by more than MissedGrace when it would
// be queued is skipped.
//
// The gateway calls Advance after its own schedule commands; the Chainer
// service (a durable consumer on the draft and schedule events, run by the
// publisher role) calls it after every event that may need a step, and for
// every schedule at start:
//
//	c := chain.New(chain.Config{View: view, Store: store})
//	if err := c.Start(ctx); err != nil { ... }
//	defer c.Stop()
package chain

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/recurrence"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Actor names the chainer in the events it appends.
const Actor = "alf:chainer"

// Defaults for the zero values of Config.
const (
	DefaultMissedGrace = 5 * time.Minute
	DefaultDurable     = "chainer"
	DefaultWorkers     = 32
)

// Reasons given to the drafts of dropped occurrences.
const (
	ReasonPaused    = "the schedule was paused"
	ReasonReplaced  = "the schedule was changed; the occurrence was queued again"
	ReasonCancelled = "the schedule was deleted"
	ReasonEnded     = "the schedule ended"
)

// maxSteps bounds the steps one Advance takes (queue, create, cancel and a
// retry after a conflict).
const maxSteps = 6

// Config wires a Chainer.
type Config struct {
	View  *projection.View
	Store *events.Store
	Clock clock.Clock  // default clock.Real
	Log   *slog.Logger // default slog.Default()
	// MissedGrace: an occurrence more overdue than this when it would be
	// queued is skipped (default 5 min), so a schedule held up for hours
	// does not publish a burst of stale posts.
	MissedGrace time.Duration
	// Durable is the consumer name all chainers share (default "chainer").
	Durable string
	// Workers bounds the schedules advanced at once (default 32).
	Workers int
	// ViewTimeout bounds each wait for the view to show an event (default 10 s).
	ViewTimeout time.Duration
	// MaxAckPending bounds the events delivered and not yet handled
	// (default 10,000). A burst larger than it stalls the consumer for
	// seconds while the server holds further deliveries back (measured:
	// at 320, 2 of 7 bursts of 10,000 took 10 s instead of 3 s).
	MaxAckPending int
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.MissedGrace <= 0 {
		c.MissedGrace = DefaultMissedGrace
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.ViewTimeout <= 0 {
		c.ViewTimeout = 10 * time.Second
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 10_000
	}
	return c
}

// Chainer advances schedules; as a service (Start/Stop) it consumes the
// events that call for a step.
type Chainer struct {
	cfg Config

	mu     sync.Mutex
	cc     jetstream.ConsumeContext
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup
	// dispatching is held while a message is dispatched, so Stop can wait
	// for a callback the consume context still runs after reporting closed.
	dispatching sync.Mutex
	// beforeCreate, when set (by tests), runs between deciding to create an
	// occurrence's draft and appending its DraftCreated: the window in which
	// a pause or delete can drop the occurrence unseen.
	beforeCreate func(draftID string)
}

// New returns a chainer. Advance works at once; Start begins consuming.
func New(cfg Config) *Chainer {
	cfg = cfg.withDefaults()
	return &Chainer{cfg: cfg, sem: make(chan struct{}, cfg.Workers)}
}

// ErrConflict is returned by Advance when the schedule kept moving under it
// for every step it tried (another writer was faster each time).
var ErrConflict = errors.New("schedule changed concurrently")

// Advance takes the steps schedule id calls for until it needs none (see
// the package doc). An unknown schedule needs none.
func (c *Chainer) Advance(ctx context.Context, id string) error {
	for range maxSteps {
		s, ok := c.cfg.View.Schedule(id)
		if !ok {
			return nil
		}
		acted, err := c.step(ctx, s)
		if errors.Is(err, events.ErrConflict) {
			if err := c.catchUp(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil || !acted {
			return err
		}
	}
	return fmt.Errorf("advance schedule %s: %w", id, ErrConflict)
}

// step takes the first step s calls for, and reports whether it took one.
func (c *Chainer) step(ctx context.Context, s projection.Schedule) (bool, error) {
	if acted, err := c.cancelDropped(ctx, s); acted || err != nil {
		return acted, err
	}
	if s.Status != projection.ScheduleActive {
		return false, nil
	}
	if p := s.Pending; p != nil {
		d, ok := c.cfg.View.Draft(p.DraftID)
		if !ok {
			rule, err := Rule(s)
			if err != nil {
				return true, c.errored(ctx, s, fmt.Sprintf("the rule cannot be read: %v", err))
			}
			return true, c.createDraft(ctx, s, p, rule)
		}
		if !d.Status.Terminal() {
			return false, nil
		}
	}
	return true, c.queueNext(ctx, s)
}

// cancelDropped cancels the draft of a dropped occurrence unless it is
// publishing or has ended.
func (c *Chainer) cancelDropped(ctx context.Context, s projection.Schedule) (bool, error) {
	if s.Dropped == "" {
		return false, nil
	}
	d, ok := c.cfg.View.Draft(s.Dropped)
	if !ok || (d.Status != projection.StatusDraft && d.Status != projection.StatusScheduled) {
		return false, nil
	}
	ev := &eventsv1.DraftCancelled{DraftId: d.ID, Reason: dropReason(s.Status)}
	return true, c.append(ctx, events.DraftSubject(d.DID, d.ID), d.Version, ev)
}

func dropReason(st projection.ScheduleStatus) string {
	switch st {
	case projection.ScheduleActive:
		return ReasonReplaced
	case projection.SchedulePaused:
		return ReasonPaused
	case projection.ScheduleCancelled:
		return ReasonCancelled
	}
	return ReasonEnded
}

// queueNext queues the schedule's next occurrence, or completes it.
func (c *Chainer) queueNext(ctx context.Context, s projection.Schedule) error {
	rule, err := Rule(s)
	if err != nil {
		return c.errored(ctx, s, fmt.Sprintf("the rule cannot be read: %v", err))
	}
	after := s.After()
	if floor := c.cfg.Clock.Now().Add(-c.cfg.MissedGrace); floor.After(after) {
		after = floor
	}
	o, ok := rule.NextOccurrence(after)
	subject := events.ScheduleSubject(s.DID, s.ID)
	if !ok {
		return c.append(ctx, subject, s.Version, &eventsv1.ScheduleCompleted{ScheduleId: s.ID})
	}
	uri, lifecycle, ok := c.slot(s, o.At)
	if !ok {
		return c.errored(ctx, s, "no free record key for the occurrence at "+o.At.UTC().Format(time.RFC3339))
	}
	q := queued(s.ID, uri, lifecycle, o.At, o.Date, after)
	if err := c.append(ctx, subject, s.Version, q); err != nil {
		return err
	}
	s, _ = c.cfg.View.Schedule(s.ID)
	if s.Pending == nil || s.Pending.DraftID != q.DraftId {
		return nil // moved on already; the next Advance sees it
	}
	return c.createDraft(ctx, s, s.Pending, rule)
}

// Rule parses a schedule's rule, anchored at its creation.
func Rule(s projection.Schedule) (*recurrence.Rule, error) {
	rule, err := recurrence.Parse(s.Rule)
	if err != nil {
		return nil, err
	}
	rule.Anchor = s.CreatedAt
	return rule, nil
}

// slot picks the record key of an occurrence: a TID of its instant, with a
// clock id from the schedule's id, so an occurrence always has the same
// key. A key another draft has used is passed over (the next clock id),
// except that of a cancelled draft of this schedule that never published.
func (c *Chainer) slot(s projection.Schedule, at time.Time) (uri string, lifecycle uint32, ok bool) {
	sum := sha256.Sum256([]byte(s.ID))
	base := uint(binary.BigEndian.Uint16(sum[:2])) & 0x3ff
	for k := range uint(1024) {
		rkey := syntax.NewTID(at.UnixMicro(), (base+k)&0x3ff).String()
		uri = "at://" + s.DID + "/" + s.Collection + "/" + rkey
		cur, used := c.cfg.View.DraftByURI(uri)
		if !used {
			return uri, 1, true
		}
		if reusable(cur, s.ID) {
			return uri, cur.Lifecycle + 1, true
		}
	}
	return "", 0, false
}

func reusable(d projection.Draft, scheduleID string) bool {
	return d.Occurrence != nil && d.Occurrence.ScheduleID == scheduleID &&
		d.Status == projection.StatusCancelled && d.Attempts == 0
}

// createDraft appends the DraftCreated of a queued occurrence of rule (the
// schedule's, parsed).
func (c *Chainer) createDraft(ctx context.Context, s projection.Schedule, p *projection.Queued, rule *recurrence.Rule) error {
	body, contentURL, err := content(s, p, rule)
	if err != nil {
		return c.errored(ctx, s, err.Error())
	}
	u, err := syntax.ParseATURI(p.URI)
	if err != nil {
		return c.errored(ctx, s, "the occurrence's URI is invalid")
	}
	ev := &eventsv1.DraftCreated{
		DraftId:     p.DraftID,
		Uri:         p.URI,
		Did:         s.DID,
		Collection:  s.Collection,
		Rkey:        u.RecordKey().String(),
		Action:      eventsv1.Action_ACTION_CREATE,
		Record:      body,
		ScheduledAt: timestamppb.New(p.At),
		Lifecycle:   p.Lifecycle,
		Occurrence: &eventsv1.Occurrence{
			ScheduleId: s.ID,
			At:         timestamppb.New(p.At),
			Date:       p.Date,
			FireCount:  s.FireCount + 1,
			ContentUrl: contentURL,
		},
	}
	if c.beforeCreate != nil {
		c.beforeCreate(p.DraftID)
	}
	// A pause or delete may drop the occurrence now, finding no draft to
	// cancel: Advance's next step (cancelDropped) cancels the draft.
	err = c.append(ctx, events.DraftSubject(s.DID, p.DraftID), 0, ev)
	if err == nil || !errors.Is(err, events.ErrConflict) {
		return err
	}
	if err := c.catchUp(ctx); err != nil {
		return err
	}
	if d, ok := c.cfg.View.Draft(p.DraftID); ok && d.Occurrence != nil && d.Occurrence.ScheduleID == s.ID {
		return nil // created by another chainer
	}
	// Another draft took the key first (another schedule of the account
	// with an occurrence at the same instant, queued at the same moment):
	// queue the occurrence again under a free key; the next step creates it.
	s, _ = c.cfg.View.Schedule(s.ID)
	return c.reslot(ctx, s, p)
}

// reslot queues the pending occurrence p again under a key no draft uses.
func (c *Chainer) reslot(ctx context.Context, s projection.Schedule, p *projection.Queued) error {
	if s.Pending == nil || s.Pending.DraftID != p.DraftID {
		return nil // the schedule moved on
	}
	uri, lifecycle, ok := c.slot(s, p.At)
	if !ok {
		return c.errored(ctx, s, "no free record key for the occurrence at "+p.At.UTC().Format(time.RFC3339))
	}
	q := queued(s.ID, uri, lifecycle, p.At, p.Date, s.After())
	return c.append(ctx, events.ScheduleSubject(s.DID, s.ID), s.Version, q)
}

// queued is the event queueing the occurrence at at (series date date,
// found after after) as lifecycle of uri.
func queued(scheduleID, uri string, lifecycle uint32, at time.Time, date string, after time.Time) *eventsv1.ScheduleOccurrenceQueued {
	return &eventsv1.ScheduleOccurrenceQueued{
		ScheduleId: scheduleID,
		DraftId:    events.DraftID(uri, lifecycle),
		Uri:        uri,
		Lifecycle:  lifecycle,
		At:         timestamppb.New(at),
		Date:       date,
		After:      timestamppb.New(after),
	}
}

// content is what an occurrence publishes: the override_payload record of
// its date, else the schedule's record (checked when the schedule was
// made) or content URL. Like the reference's, the drafts of schedules
// carry no CID: the record's createdAt is only known when it is written.
func content(s projection.Schedule, p *projection.Queued, rule *recurrence.Rule) (body []byte, contentURL string, err error) {
	if payload := rule.Payload(p.Date); payload != nil {
		body, _, err := record.Prepare(s.Collection, payload)
		if err != nil {
			return nil, "", fmt.Errorf("the occurrence's override record is invalid: %w", err)
		}
		return body, "", nil
	}
	switch {
	case s.Record != nil:
		return s.Record, "", nil
	case s.ContentURL != "":
		return nil, s.ContentURL, nil
	}
	return nil, "", errors.New("the schedule has neither a record nor a content URL")
}

// errored stops the schedule with a reason.
func (c *Chainer) errored(ctx context.Context, s projection.Schedule, reason string) error {
	c.cfg.Log.Error("schedule errored", "schedule", s.ID, "reason", reason)
	ev := &eventsv1.ScheduleErrored{ScheduleId: s.ID, Reason: reason}
	return c.append(ctx, events.ScheduleSubject(s.DID, s.ID), s.Version, ev)
}

// append stores ev at the expected version and waits for the view to show it.
func (c *Chainer) append(ctx context.Context, subject string, expected uint64, ev proto.Message) error {
	env := events.New(Actor, c.cfg.Clock.Now(), ev)
	seq, err := c.cfg.Store.Append(ctx, subject, expected, env)
	if err != nil {
		return err
	}
	return c.waitView(ctx, seq)
}

func (c *Chainer) waitView(ctx context.Context, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ViewTimeout)
	defer cancel()
	return c.cfg.View.WaitFor(ctx, seq)
}

// catchUp waits until the view shows everything appended so far.
func (c *Chainer) catchUp(ctx context.Context) error {
	last, err := c.cfg.Store.LastSeq(ctx)
	if err != nil {
		return err
	}
	return c.waitView(ctx, last)
}

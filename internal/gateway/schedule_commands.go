package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/chain"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/recurrence"
	"google.golang.org/protobuf/proto"
)

// The schedule commands both APIs share. Errors are Connect errors; the
// XRPC handlers map them to the reference's names.

// Messages the reference answers with.
const (
	msgRecurringDisabled = "Recurring schedules are disabled on this server"
	msgNoFuture          = "Recurrence rule produces no future occurrences"
	msgExclusive         = "record and contentUrl are mutually exclusive"
	msgScheduleNotFound  = "Schedule not found"
)

// scheduleSpec is a validated new schedule.
type scheduleSpec struct {
	collection string
	rule       []byte // the rule JSON, compact, its RFC 5545 zone filled in
	timezone   string
	record     []byte // prepared; nil with a contentURL
	contentURL string
}

// scheduleChange is a validated UpdateSchedule: nil or empty fields keep
// their value.
type scheduleChange struct {
	rule       []byte
	parsed     *recurrence.Rule // rule, parsed
	timezone   *string
	record     []byte
	contentURL *string
	status     projection.ScheduleStatus // active, paused or "" to keep
}

func invalidArg(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// checkRule validates rule JSON and returns it compact, with the zone of an
// RFC 5545 rule that names none filled in from timezone.
func checkRule(raw []byte, timezone string) ([]byte, *recurrence.Rule, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil, invalidArg("recurrenceRule is required")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, invalidArg("recurrenceRule must be an object")
	}
	if _, isRRule := fields["rrule"]; isRRule && timezone != "" {
		if _, named := fields["timezone"]; !named {
			fields["timezone"], _ = json.Marshal(timezone)
			raw, _ = json.Marshal(fields)
		}
	}
	rule, err := recurrence.Parse(raw)
	if err != nil {
		return nil, nil, invalidArg("recurrenceRule: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, nil, invalidArg("recurrenceRule must be JSON")
	}
	return buf.Bytes(), rule, nil
}

func checkZone(timezone string) error {
	if timezone == "" {
		return nil
	}
	if _, err := recurrence.LoadZone(timezone); err != nil {
		return invalidArg("timezone must be an IANA time zone name")
	}
	return nil
}

// checkContentURL accepts an absolute http(s) URL. Whether its host may be
// fetched is decided when it is fetched (its addresses may change).
func checkContentURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidArg("contentUrl must be an absolute http or https URL")
	}
	return nil
}

// checkPayloads validates the override_payload records of a rule as
// records of the collection.
func checkPayloads(collection string, rule *recurrence.Rule) error {
	for i, e := range rule.Exceptions {
		if e.Type != recurrence.OverridePayload {
			continue
		}
		if err := record.Check(collection, e.Record); err != nil {
			return invalidArg("recurrenceRule: exceptions[%d].record: %v", i, err)
		}
	}
	return nil
}

// newSpec validates a CreateSchedule of either API.
func (g *Gateway) newSpec(collection string, rule []byte, timezone string, rec []byte, contentURL string) (scheduleSpec, *recurrence.Rule, error) {
	if err := g.checkCollection(collection); err != nil {
		return scheduleSpec{}, nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := checkZone(timezone); err != nil {
		return scheduleSpec{}, nil, err
	}
	spec := scheduleSpec{collection: collection, timezone: timezone, contentURL: contentURL}
	var parsed *recurrence.Rule
	var err error
	if spec.rule, parsed, err = checkRule(rule, timezone); err != nil {
		return scheduleSpec{}, nil, err
	}
	switch {
	case len(rec) > 0 && contentURL != "":
		return scheduleSpec{}, nil, invalidArg(msgExclusive)
	case len(rec) > 0:
		if spec.record, _, err = record.Prepare(collection, rec); err != nil {
			return scheduleSpec{}, nil, invalidArg("record: %v", err)
		}
	case contentURL != "":
		if err := checkContentURL(contentURL); err != nil {
			return scheduleSpec{}, nil, err
		}
	default:
		return scheduleSpec{}, nil, invalidArg("a schedule needs a record or a contentUrl")
	}
	if err := checkPayloads(collection, parsed); err != nil {
		return scheduleSpec{}, nil, err
	}
	return spec, parsed, nil
}

// newChange validates an UpdateSchedule of either API for schedule s.
// status is "active", "paused" or "" (keep). An RFC 5545 rule naming no
// zone takes the new timezone, else the schedule's.
func (g *Gateway) newChange(s projection.Schedule, rule []byte, timezone *string, rec []byte, contentURL *string, status string) (scheduleChange, error) {
	collection := s.Collection
	ch := scheduleChange{timezone: timezone, contentURL: contentURL}
	switch projection.ScheduleStatus(status) {
	case "", projection.ScheduleActive, projection.SchedulePaused:
		ch.status = projection.ScheduleStatus(status)
	default:
		return scheduleChange{}, invalidArg("status must be active or paused")
	}
	if timezone != nil {
		if err := checkZone(*timezone); err != nil {
			return scheduleChange{}, err
		}
	}
	if rule != nil {
		zone := s.Timezone
		if timezone != nil {
			zone = *timezone
		}
		var err error
		if ch.rule, ch.parsed, err = checkRule(rule, zone); err != nil {
			return scheduleChange{}, err
		}
		if err := checkPayloads(collection, ch.parsed); err != nil {
			return scheduleChange{}, err
		}
	}
	if rec != nil && contentURL != nil {
		return scheduleChange{}, invalidArg(msgExclusive)
	}
	if rec != nil {
		body, _, err := record.Prepare(collection, rec)
		if err != nil {
			return scheduleChange{}, invalidArg("record: %v", err)
		}
		ch.record = body
	}
	if contentURL != nil && *contentURL != "" {
		if err := checkContentURL(*contentURL); err != nil {
			return scheduleChange{}, err
		}
	}
	return ch, nil
}

// createSchedule appends ScheduleCreated and queues the first occurrence.
func (g *Gateway) createSchedule(ctx context.Context, did syntax.DID, spec scheduleSpec, rule *recurrence.Rule) (projection.Schedule, error) {
	if g.cfg.DisableRecurring {
		return projection.Schedule{}, connect.NewError(connect.CodeFailedPrecondition, errors.New(msgRecurringDisabled))
	}
	now := g.cfg.Clock.Now()
	rule.Anchor = now
	if _, ok := rule.Next(now); !ok {
		return projection.Schedule{}, invalidArg(msgNoFuture)
	}
	id := newUUID()
	ev := &eventsv1.ScheduleCreated{
		ScheduleId: id, Did: did.String(), Collection: spec.collection,
		Rule: spec.rule, Timezone: spec.timezone, Record: spec.record, ContentUrl: spec.contentURL,
	}
	seq, err := g.cfg.Store.Append(ctx, events.ScheduleSubject(did.String(), id), 0, events.New(did.String(), now, ev))
	if err != nil {
		return projection.Schedule{}, appendError(err)
	}
	return g.advanced(ctx, id, seq)
}

// advanced waits for the view to show seq, lets the chainer take the steps
// the schedule now calls for, and returns it as it then stands. A step
// that fails here is taken by the chainer service later.
func (g *Gateway) advanced(ctx context.Context, id string, seq uint64) (projection.Schedule, error) {
	if err := g.waitView(ctx, seq); err != nil {
		return projection.Schedule{}, err
	}
	if g.cfg.Chain != nil {
		if err := g.cfg.Chain.Advance(ctx, id); err != nil {
			g.cfg.Log.Warn("advance schedule; the chainer will retry", "schedule", id, "err", err)
		}
	}
	s, _ := g.cfg.View.Schedule(id)
	return s, nil
}

// ownSchedule finds the caller's schedule: NotFound when there is none,
// PermissionDenied when it is another account's (as the reference).
func (g *Gateway) ownSchedule(did syntax.DID, id string) (projection.Schedule, error) {
	s, ok := g.cfg.View.Schedule(id)
	if !ok {
		return projection.Schedule{}, connect.NewError(connect.CodeNotFound, errors.New(msgScheduleNotFound))
	}
	if s.DID != did.String() {
		return projection.Schedule{}, connect.NewError(connect.CodePermissionDenied, errors.New("the schedule is not yours"))
	}
	return s, nil
}

// changeSchedule applies an update.
func (g *Gateway) changeSchedule(ctx context.Context, did syntax.DID, id string, ch scheduleChange) (projection.Schedule, error) {
	return g.scheduleCommand(ctx, did, id, func(s projection.Schedule) ([]proto.Message, error) { return g.decideChange(s, ch) })
}

// scheduleCommand decides a command on the caller's schedule, appends its
// events at the schedule's version, deciding again once on fresh state
// after a conflict, and lets the chainer take the steps that follow. No
// events means nothing to do.
func (g *Gateway) scheduleCommand(ctx context.Context, did syntax.DID, id string, decide func(projection.Schedule) ([]proto.Message, error)) (projection.Schedule, error) {
	for try := 0; ; try++ {
		s, err := g.ownSchedule(did, id)
		if err != nil {
			return projection.Schedule{}, err
		}
		evs, err := decide(s)
		if err != nil || len(evs) == 0 {
			return s, err
		}
		seq, err := g.appendAll(ctx, did.String(), events.ScheduleSubject(s.DID, s.ID), s.Version, evs)
		if errors.Is(err, events.ErrConflict) && try == 0 {
			if err := g.catchUp(ctx); err != nil {
				return projection.Schedule{}, err
			}
			continue
		}
		if err != nil {
			return projection.Schedule{}, appendError(err)
		}
		return g.advanced(ctx, id, seq)
	}
}

// decideChange turns an update into the schedule's events. Only what
// differs from the schedule's state is appended.
func (g *Gateway) decideChange(s projection.Schedule, ch scheduleChange) ([]proto.Message, error) {
	if s.Status == projection.ScheduleCancelled {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the schedule was deleted"))
	}
	up := &eventsv1.ScheduleUpdated{ScheduleId: s.ID}
	changed := false
	if ch.rule != nil && !bytes.Equal(ch.rule, s.Rule) {
		up.Rule, changed = ch.rule, true
	}
	if ch.timezone != nil && *ch.timezone != s.Timezone {
		up.Timezone, changed = ch.timezone, true
	}
	if ch.record != nil && !bytes.Equal(ch.record, s.Record) {
		up.Record, changed = ch.record, true
	}
	if ch.contentURL != nil && *ch.contentURL != s.ContentURL {
		up.ContentUrl, changed = ch.contentURL, true
	}
	if ch.contentURL != nil && *ch.contentURL == "" && ch.record == nil && s.Record == nil {
		return nil, invalidArg("a schedule needs a record or a contentUrl")
	}
	active := s.Status == projection.ScheduleActive
	if ch.status != "" {
		active = ch.status == projection.ScheduleActive
	}
	if active {
		if err := g.checkFuture(s, ch.parsed); err != nil {
			return nil, err
		}
	}
	var out []proto.Message
	if changed {
		up.Requeue = s.Status == projection.ScheduleActive && g.pendingUnclaimed(s)
		out = append(out, up)
	}
	switch {
	case ch.status == projection.SchedulePaused && s.Status == projection.ScheduleActive:
		out = append(out, &eventsv1.SchedulePaused{ScheduleId: s.ID})
	case ch.status == projection.SchedulePaused && s.Status != projection.SchedulePaused:
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the schedule is %s; only an active schedule can be paused", s.Status))
	case ch.status == projection.ScheduleActive && s.Status != projection.ScheduleActive:
		out = append(out, &eventsv1.ScheduleResumed{ScheduleId: s.ID})
	}
	return out, nil
}

// checkFuture refuses to make a schedule active whose rule (newRule if
// given) has no occurrence after now: it would stall silently.
func (g *Gateway) checkFuture(s projection.Schedule, newRule *recurrence.Rule) error {
	rule := newRule
	if rule == nil {
		var err error
		if rule, err = chain.Rule(s); err != nil {
			return invalidArg("recurrenceRule: %v", err)
		}
	}
	rule.Anchor = s.CreatedAt
	if _, ok := rule.Next(g.cfg.Clock.Now()); !ok {
		return invalidArg(msgNoFuture)
	}
	return nil
}

// pendingUnclaimed reports whether the schedule's queued occurrence has not
// started publishing (an update may then queue it again).
func (g *Gateway) pendingUnclaimed(s projection.Schedule) bool {
	if s.Pending == nil {
		return false
	}
	d, ok := g.cfg.View.Draft(s.Pending.DraftID)
	return !ok || d.Status == projection.StatusDraft || d.Status == projection.StatusScheduled
}

// deleteSchedule cancels a schedule and its queued occurrence.
func (g *Gateway) deleteSchedule(ctx context.Context, did syntax.DID, id string) (projection.Schedule, error) {
	return g.scheduleCommand(ctx, did, id, func(s projection.Schedule) ([]proto.Message, error) {
		if s.Status == projection.ScheduleCancelled {
			return nil, nil
		}
		return []proto.Message{&eventsv1.ScheduleCancelled{ScheduleId: s.ID, Reason: "deleted by the user"}}, nil
	})
}

// appendAll appends evs to one subject in order, from version on, and
// returns the last sequence (0 when evs is empty).
func (g *Gateway) appendAll(ctx context.Context, actor, subject string, version uint64, evs []proto.Message) (uint64, error) {
	var seq uint64
	for _, ev := range evs {
		var err error
		if seq, err = g.cfg.Store.Append(ctx, subject, version, events.New(actor, g.cfg.Clock.Now(), ev)); err != nil {
			return 0, err
		}
		version = seq
	}
	return seq, nil
}

// newUUID returns a random UUID v4, the reference's schedule id format.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

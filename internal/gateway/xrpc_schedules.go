package gateway

import (
	"context"
	"encoding/json"

	"github.com/latency-fabric/alf/internal/projection"
)

// The town.roundabout.scheduledPosts.* schedule methods (spec §4.5), with
// the reference's answers minus its bugs: status values are validated,
// record and contentUrl are exclusive on update too, an update requeues
// the pending occurrence, and resuming a rule with no future occurrence is
// refused instead of stalling.

// scheduleView is the reference's ScheduleView (spec §3.2), with alf's
// nextOccurrenceAt and lastFailure fields.
type scheduleView struct {
	ID                string          `json:"id"`
	Collection        string          `json:"collection"`
	Status            string          `json:"status"`
	RecurrenceRule    json.RawMessage `json:"recurrenceRule"`
	Timezone          string          `json:"timezone"`
	FireCount         uint32          `json:"fireCount"`
	CreatedAt         string          `json:"createdAt"`
	UpdatedAt         string          `json:"updatedAt"`
	LastFiredAt       string          `json:"lastFiredAt,omitempty"`
	NextDraftURI      string          `json:"nextDraftUri,omitempty"`
	NextOccurrenceAt  string          `json:"nextOccurrenceAt,omitempty"`
	ContentURL        string          `json:"contentUrl,omitempty"`
	Record            json.RawMessage `json:"record,omitempty"`
	LastFailureReason string          `json:"lastFailureReason,omitempty"`
	LastFailureAt     string          `json:"lastFailureAt,omitempty"`
}

func newScheduleView(s projection.Schedule) scheduleView {
	v := scheduleView{
		ID:                s.ID,
		Collection:        s.Collection,
		Status:            string(s.Status),
		RecurrenceRule:    s.Rule,
		Timezone:          s.Timezone,
		FireCount:         s.FireCount,
		CreatedAt:         viewTime(s.CreatedAt),
		UpdatedAt:         viewTime(s.UpdatedAt),
		LastFiredAt:       viewTime(s.LastFiredAt),
		ContentURL:        s.ContentURL,
		LastFailureReason: s.LastFailure,
		LastFailureAt:     viewTime(s.LastFailureAt),
	}
	if len(s.Record) > 0 {
		v.Record = s.Record
	}
	if p := s.Pending; p != nil && s.Status == projection.ScheduleActive {
		v.NextDraftURI, v.NextOccurrenceAt = p.URI, viewTime(p.At)
	}
	return v
}

func scheduleAnswer(s projection.Schedule) any {
	return map[string]any{"schedule": newScheduleView(s)}
}

// scheduleInput is the body of createSchedule and updateSchedule; raw
// fields keep the client's JSON (numbers exactly).
type scheduleInput struct {
	ID             string          `json:"id"`
	Collection     string          `json:"collection"`
	RecurrenceRule json.RawMessage `json:"recurrenceRule"`
	Timezone       *string         `json:"timezone"`
	Record         json.RawMessage `json:"record"`
	ContentURL     *string         `json:"contentUrl"`
	Status         string          `json:"status"`
}

func (g *Gateway) createScheduleXRPC(ctx context.Context, req *xrpcRequest) (any, error) {
	var in scheduleInput
	if err := json.Unmarshal(req.body, &in); err != nil {
		return nil, invalid("Invalid request body")
	}
	spec, rule, err := g.newSpec(in.Collection, in.RecurrenceRule, deref(in.Timezone), in.Record, deref(in.ContentURL))
	if err != nil {
		return nil, connectToXRPC(err)
	}
	s, err := g.createSchedule(ctx, req.did, spec, rule)
	if err != nil {
		return nil, connectToXRPC(err)
	}
	return scheduleAnswer(s), nil
}

func (g *Gateway) listSchedules(_ context.Context, req *xrpcRequest) (any, error) {
	if str(req.params, "repo") != req.did.String() {
		return nil, notYours("You can only list your own schedules")
	}
	status := projection.ScheduleStatus(str(req.params, "status"))
	out := map[string]any{"schedules": []scheduleView{}}
	if status != "" && !knownScheduleStatus(status) {
		return out, nil // an unknown status matches nothing, as in the reference
	}
	rows, next, err := g.cfg.View.ListSchedules(req.did.String(), projection.ScheduleQuery{
		Status: status, Limit: integer(req.params, "limit", 50), Cursor: str(req.params, "cursor"),
	})
	if err != nil {
		return nil, invalid("Invalid cursor")
	}
	views := make([]scheduleView, 0, len(rows))
	for _, s := range rows {
		views = append(views, newScheduleView(s))
	}
	out["schedules"] = views
	if next != "" {
		out["cursor"] = next
	}
	return out, nil
}

func (g *Gateway) getSchedule(_ context.Context, req *xrpcRequest) (any, error) {
	s, err := g.ownSchedule(req.did, str(req.params, "id"))
	if err != nil {
		return nil, scheduleError(err, "You can only view your own schedules")
	}
	return scheduleAnswer(s), nil
}

func (g *Gateway) updateScheduleXRPC(ctx context.Context, req *xrpcRequest) (any, error) {
	var in scheduleInput
	if err := json.Unmarshal(req.body, &in); err != nil {
		return nil, invalid("Invalid request body")
	}
	s, err := g.ownSchedule(req.did, in.ID)
	if err != nil {
		return nil, scheduleError(err, "You can only update your own schedules")
	}
	ch, err := g.newChange(s, in.RecurrenceRule, in.Timezone, in.Record, in.ContentURL, in.Status)
	if err != nil {
		return nil, connectToXRPC(err)
	}
	if s, err = g.changeSchedule(ctx, req.did, in.ID, ch); err != nil {
		return nil, scheduleError(err, "You can only update your own schedules")
	}
	return scheduleAnswer(s), nil
}

func (g *Gateway) deleteScheduleXRPC(ctx context.Context, req *xrpcRequest) (any, error) {
	if _, err := g.deleteSchedule(ctx, req.did, str(req.input, "id")); err != nil {
		return nil, scheduleError(err, "You can only delete your own schedules")
	}
	return map[string]any{}, nil
}

// scheduleError maps a schedule command's error to the reference's
// answers: NotFound "Schedule not found", 401 with notOwner for another
// account's schedule.
func scheduleError(err error, notOwner string) error {
	xe := connectToXRPC(err)
	if x, ok := xe.(*xrpcError); ok && x.name == "AuthenticationRequired" {
		return notYours(notOwner)
	}
	return xe
}

func knownScheduleStatus(s projection.ScheduleStatus) bool {
	switch s {
	case projection.ScheduleActive, projection.SchedulePaused, projection.ScheduleCancelled,
		projection.ScheduleCompleted, projection.ScheduleError:
		return true
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

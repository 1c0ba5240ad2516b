package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/recurrence/english"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// schedules implements alf.v1.ScheduleService.
type schedules struct{ g *Gateway }

func (s *schedules) PreviewOccurrences(ctx context.Context, req *connect.Request[alfv1.PreviewOccurrencesRequest]) (*connect.Response[alfv1.PreviewOccurrencesResponse], error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	count := req.Msg.GetCount()
	if count == 0 {
		count = 10
	}
	if count < 1 || count > 100 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("count must be between 1 and 100"))
	}
	raw, _, err := structJSON(req.Msg.GetRule(), nil)
	if err != nil {
		return nil, err
	}
	_, rule, err := checkRule(raw, req.Msg.GetTimezone())
	if err != nil {
		return nil, err
	}
	after := s.g.cfg.Clock.Now()
	if a := req.Msg.GetAfter(); a != nil {
		if err := a.CheckValid(); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("after: %w", err))
		}
		after = a.AsTime()
	}
	out := &alfv1.PreviewOccurrencesResponse{}
	for _, o := range rule.Occurrences(after, int(count)) {
		out.Occurrences = append(out.Occurrences, &alfv1.Occurrence{
			At: timestamppb.New(o.At), Local: o.Local, Date: o.Date, Exceptions: o.Exceptions, Record: recordStruct(o.Record),
		})
	}
	return connect.NewResponse(out), nil
}

func (s *schedules) ParseRule(ctx context.Context, req *connect.Request[alfv1.ParseRuleRequest]) (*connect.Response[alfv1.ParseRuleResponse], error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	zone := req.Msg.GetTimezone()
	if zone == "" {
		zone = "UTC"
	}
	raw, err := english.Parse(req.Msg.GetText(), zone)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	text, err := english.Format(raw)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("parsed rule is not an object"))
	}
	rule, err := structpb.NewStruct(m)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("parsed rule does not fit a Struct"))
	}
	return connect.NewResponse(&alfv1.ParseRuleResponse{Rule: rule, Text: text}), nil
}

func (s *schedules) CreateSchedule(ctx context.Context, req *connect.Request[alfv1.CreateScheduleRequest]) (*connect.Response[alfv1.CreateScheduleResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	rule, rec, err := structJSON(m.GetRule(), m.GetRecord())
	if err != nil {
		return nil, err
	}
	spec, parsed, err := s.g.newSpec(m.GetCollection(), rule, m.GetTimezone(), rec, m.GetContentUrl())
	if err != nil {
		return nil, err
	}
	sc, err := s.g.createSchedule(ctx, did, spec, parsed)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.CreateScheduleResponse{Schedule: scheduleMessage(sc)}), nil
}

func (s *schedules) GetSchedule(ctx context.Context, req *connect.Request[alfv1.GetScheduleRequest]) (*connect.Response[alfv1.GetScheduleResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := s.g.ownSchedule(did, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.GetScheduleResponse{Schedule: scheduleMessage(sc)}), nil
}

func (s *schedules) ListSchedules(ctx context.Context, req *connect.Request[alfv1.ListSchedulesRequest]) (*connect.Response[alfv1.ListSchedulesResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	size := req.Msg.GetPageSize()
	if size < 0 || size > 100 {
		return nil, invalidArg("page_size must be between 1 and 100")
	}
	rows, next, err := s.g.cfg.View.ListSchedules(did.String(), projection.ScheduleQuery{
		Status: scheduleStatusFilter(req.Msg.GetStatus()), Limit: int(size), Cursor: req.Msg.GetPageToken(),
	})
	if err != nil {
		return nil, invalidArg("page_token: %v", err)
	}
	out := &alfv1.ListSchedulesResponse{NextPageToken: next}
	for _, sc := range rows {
		out.Schedules = append(out.Schedules, scheduleMessage(sc))
	}
	return connect.NewResponse(out), nil
}

func (s *schedules) UpdateSchedule(ctx context.Context, req *connect.Request[alfv1.UpdateScheduleRequest]) (*connect.Response[alfv1.UpdateScheduleResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	sc, err := s.g.ownSchedule(did, m.GetId())
	if err != nil {
		return nil, err
	}
	rule, rec, err := structJSON(m.GetRule(), m.GetRecord())
	if err != nil {
		return nil, err
	}
	var status string
	switch m.GetStatus() {
	case alfv1.ScheduleStatus_SCHEDULE_STATUS_UNSPECIFIED:
	case alfv1.ScheduleStatus_SCHEDULE_STATUS_ACTIVE, alfv1.ScheduleStatus_SCHEDULE_STATUS_PAUSED:
		status = string(scheduleStatusFilter(m.GetStatus()))
	default:
		return nil, invalidArg("status must be SCHEDULE_STATUS_ACTIVE or SCHEDULE_STATUS_PAUSED")
	}
	ch, err := s.g.newChange(sc, rule, m.Timezone, rec, m.ContentUrl, status)
	if err != nil {
		return nil, err
	}
	if sc, err = s.g.changeSchedule(ctx, did, m.GetId(), ch); err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.UpdateScheduleResponse{Schedule: scheduleMessage(sc)}), nil
}

func (s *schedules) DeleteSchedule(ctx context.Context, req *connect.Request[alfv1.DeleteScheduleRequest]) (*connect.Response[alfv1.DeleteScheduleResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := s.g.deleteSchedule(ctx, did, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.DeleteScheduleResponse{Schedule: scheduleMessage(sc)}), nil
}

// structJSON is the JSON of a rule and a record given as Structs (nil for
// those not given).
func structJSON(rule, rec *structpb.Struct) (ruleJSON, recJSON []byte, err error) {
	if rule != nil {
		if ruleJSON, err = protojson.Marshal(rule); err != nil {
			return nil, nil, invalidArg("rule: %v", err)
		}
	}
	if rec != nil {
		if recJSON, err = recordJSON(rec); err != nil {
			return nil, nil, invalidArg("%v", err)
		}
	}
	return ruleJSON, recJSON, nil
}

var scheduleStatuses = map[projection.ScheduleStatus]alfv1.ScheduleStatus{
	projection.ScheduleActive:    alfv1.ScheduleStatus_SCHEDULE_STATUS_ACTIVE,
	projection.SchedulePaused:    alfv1.ScheduleStatus_SCHEDULE_STATUS_PAUSED,
	projection.ScheduleCancelled: alfv1.ScheduleStatus_SCHEDULE_STATUS_CANCELLED,
	projection.ScheduleCompleted: alfv1.ScheduleStatus_SCHEDULE_STATUS_COMPLETED,
	projection.ScheduleError:     alfv1.ScheduleStatus_SCHEDULE_STATUS_ERROR,
}

// scheduleStatusFilter maps an API status to the projection's ("" for all).
func scheduleStatusFilter(st alfv1.ScheduleStatus) projection.ScheduleStatus {
	for k, v := range scheduleStatuses {
		if v == st {
			return k
		}
	}
	return ""
}

func scheduleMessage(s projection.Schedule) *alfv1.Schedule {
	m := &alfv1.Schedule{
		Id:                s.ID,
		Collection:        s.Collection,
		Status:            scheduleStatuses[s.Status],
		Rule:              recordStruct(s.Rule),
		Timezone:          s.Timezone,
		Record:            recordStruct(s.Record),
		ContentUrl:        s.ContentURL,
		FireCount:         s.FireCount,
		CreatedAt:         timestamp(s.CreatedAt),
		UpdatedAt:         timestamp(s.UpdatedAt),
		LastFiredAt:       timestamp(s.LastFiredAt),
		LastFailureReason: s.LastFailure,
		LastFailureAt:     timestamp(s.LastFailureAt),
	}
	if p := s.Pending; p != nil && s.Status == projection.ScheduleActive {
		m.NextDraftUri, m.NextOccurrenceAt = p.URI, timestamp(p.At)
	}
	return m
}

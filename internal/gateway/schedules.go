package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/recurrence"
	"github.com/latency-fabric/alf/internal/recurrence/english"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
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
	rule, err := parseRule(req.Msg.GetRule(), req.Msg.GetTimezone())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
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

// parseRule reads rule JSON given as a Struct; zone is the default zone of
// an RFC 5545 rule that names none.
func parseRule(rule *structpb.Struct, zone string) (*recurrence.Rule, error) {
	if rule == nil {
		return nil, errors.New("rule is required")
	}
	if _, isRRule := rule.GetFields()["rrule"]; isRRule && zone != "" {
		if _, named := rule.GetFields()["timezone"]; !named {
			rule = proto.Clone(rule).(*structpb.Struct)
			rule.Fields["timezone"] = structpb.NewStringValue(zone)
		}
	}
	raw, err := protojson.Marshal(rule)
	if err != nil {
		return nil, fmt.Errorf("rule: %w", err)
	}
	return recurrence.Parse(raw)
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

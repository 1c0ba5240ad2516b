package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func mustRule(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// PreviewOccurrences lists a rule's next instants, right about DST: a daily
// 02:30 New York post on the spring-forward day fires at wall time + gap.
func TestPreviewOccurrences(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	c := alfv1connect.NewScheduleServiceClient(http.DefaultClient, g.base, signer(t, g.alice))
	ctx := context.Background()
	daily := mustRule(t, map[string]any{"rule": map[string]any{
		"type": "daily", "time": map[string]any{"type": "wall_time", "hour": 2, "minute": 30, "timezone": "America/New_York"},
	}})
	res, err := c.PreviewOccurrences(ctx, connect.NewRequest(&alfv1.PreviewOccurrencesRequest{
		Rule: daily, After: timestamppb.New(time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)), Count: 3,
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"}
	if len(res.Msg.Occurrences) != len(want) {
		t.Fatalf("%d occurrences, want %d", len(res.Msg.Occurrences), len(want))
	}
	for i, o := range res.Msg.Occurrences {
		if got := o.At.AsTime().Format(time.RFC3339); got != want[i] {
			t.Errorf("occurrence %d at %s, want %s (local %s)", i, got, want[i], o.Local)
		}
	}
	bad := mustRule(t, map[string]any{"rule": map[string]any{
		"type": "weekly", "daysOfWeek": []any{9}, "time": map[string]any{"type": "wall_time", "hour": 9, "minute": 0, "timezone": "UTC"},
	}})
	_, err = c.PreviewOccurrences(ctx, connect.NewRequest(&alfv1.PreviewOccurrencesRequest{Rule: bad}))
	if code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "daysOfWeek") {
		t.Fatalf("weekday 9: %v, want invalid argument naming daysOfWeek", err)
	}
	rrule := mustRule(t, map[string]any{"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"})
	res, err = c.PreviewOccurrences(ctx, connect.NewRequest(&alfv1.PreviewOccurrencesRequest{
		Rule: rrule, Timezone: "Europe/London", After: timestamppb.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)), Count: 1,
	}))
	if err != nil || len(res.Msg.Occurrences) != 1 || res.Msg.Occurrences[0].At.AsTime().Format(time.RFC3339) != "2026-06-08T08:00:00Z" {
		t.Fatalf("RRULE in London: %v, %v", res, err)
	}
}

// ParseRule reads English into rule JSON and says it back.
func TestParseRule(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	c := alfv1connect.NewScheduleServiceClient(http.DefaultClient, g.base, signer(t, g.alice))
	res, err := c.ParseRule(context.Background(), connect.NewRequest(&alfv1.ParseRuleRequest{Text: "every monday at 9am eastern"}))
	if err != nil {
		t.Fatal(err)
	}
	rule := res.Msg.Rule.Fields["rule"].GetStructValue()
	if rule.Fields["type"].GetStringValue() != "weekly" || res.Msg.Text == "" {
		t.Fatalf("ParseRule = %v %q", res.Msg.Rule, res.Msg.Text)
	}
	if _, err := c.ParseRule(context.Background(), connect.NewRequest(&alfv1.ParseRuleRequest{Text: "whenever the moon is full"})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("nonsense: %v, want invalid argument", err)
	}
	unsigned := alfv1connect.NewScheduleServiceClient(http.DefaultClient, g.base)
	if _, err := unsigned.ParseRule(context.Background(), connect.NewRequest(&alfv1.ParseRuleRequest{Text: "daily at noon"})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("no token: %v, want unauthenticated", err)
	}
}

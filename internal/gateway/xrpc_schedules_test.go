package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/node"
)

const (
	nsidSchedules = "/xrpc/town.roundabout.scheduledPosts."
	dailyRule     = `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"Europe/London"}}}`
)

func scheduleBody(rule, extra string) string {
	return `{"collection":"app.bsky.feed.post","recurrenceRule":` + rule + `,"timezone":"Europe/London"` + extra + `}`
}

func ruleOf(core string) string {
	return `{"rule":` + core + `}`
}

// The reference's schedule routes (spec §4.5) with their answers, minus its
// bugs: malformed rules are 400s naming the field (never 500s), statuses
// are validated, record and contentUrl are exclusive on update too.
func TestXRPCScheduleCompatibility(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	alice, bob := g.alice, g.bob
	a := alice.DID.String()
	created := g.do(t, call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: scheduleBody(dailyRule, `,"record":`+postRecord)})
	if created.status != 200 {
		t.Fatalf("fixture: %d %s", created.status, created.raw)
	}
	id := created.body["schedule"].(map[string]any)["id"].(string)
	wall := func(h, m int) string {
		return fmt.Sprintf(`{"type":"wall_time","hour":%d,"minute":%d,"timezone":"UTC"}`, h, m)
	}
	create := func(rule, extra string) call {
		return call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: scheduleBody(rule, extra)}
	}
	withRecord := `,"record":` + postRecord

	tests := []struct {
		name string
		call call
		want expect
	}{
		{"create", create(dailyRule, withRecord), expect{status: 200, has: []string{"schedule"}}},
		{"create with a content URL", create(dailyRule, `,"contentUrl":"https://content.example/next"`), expect{status: 200, has: []string{"schedule"}}},
		{"create an RFC 5545 rule", create(`{"rrule":"FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"}`, withRecord), expect{status: 200}},
		{"create without a token", call{method: "POST", path: nsidSchedules + "createSchedule", body: scheduleBody(dailyRule, withRecord)}, expect{status: 401, name: "AuthenticationRequired"}},
		{"create without a rule", call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: `{"collection":"app.bsky.feed.post","timezone":"UTC","record":` + postRecord + `}`}, expect{status: 400, name: "InvalidRequest", message: `Input must have the property "recurrenceRule"`}},
		{"record and contentUrl", create(dailyRule, withRecord+`,"contentUrl":"https://content.example/"`), expect{status: 400, name: "InvalidRequest", message: "record and contentUrl are mutually exclusive"}},
		{"neither record nor contentUrl", create(dailyRule, ""), expect{status: 400, name: "InvalidRequest", message: "record or a contentUrl"}},
		{"contentUrl not a URL", create(dailyRule, `,"contentUrl":"file:///etc/passwd"`), expect{status: 400, name: "InvalidRequest", message: "contentUrl"}},
		{"invalid record", create(dailyRule, `,"record":{"$type":"app.bsky.feed.post","text":1}`), expect{status: 400, name: "InvalidRequest", message: "record"}},
		{"no future occurrences", create(`{"rule":{"type":"daily","time":`+wall(9, 0)+`},"endDate":"2020-01-01"}`, withRecord), expect{status: 400, name: "InvalidRequest", message: "Recurrence rule produces no future occurrences"}},
		{"once in the past", create(ruleOf(`{"type":"once","datetime":"2020-01-01T00:00:00Z"}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "no future occurrences"}},
		{"unknown type", create(ruleOf(`{"type":"fortnightly","time":`+wall(9, 0)+`}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "rule.type"}},
		{"missing time", create(ruleOf(`{"type":"daily"}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "rule.time"}},
		{"hour 25", create(ruleOf(`{"type":"daily","time":`+wall(25, 0)+`}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "hour"}},
		{"weekday 9", create(ruleOf(`{"type":"weekly","daysOfWeek":[9],"time":`+wall(9, 0)+`}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "daysOfWeek"}},
		{"empty daysOfWeek", create(ruleOf(`{"type":"weekly","daysOfWeek":[],"time":`+wall(9, 0)+`}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "daysOfWeek"}},
		{"month 13", create(ruleOf(`{"type":"yearly_on_month_day","month":13,"dayOfMonth":1,"time":`+wall(9, 0)+`}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "month"}},
		{"bad zone in the rule", create(ruleOf(`{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"Mars/Olympus"}}`), withRecord), expect{status: 400, name: "InvalidRequest", message: "timezone"}},
		{"bad timezone", call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: `{"collection":"app.bsky.feed.post","recurrenceRule":` + dailyRule + `,"timezone":"Nowhere/Land","record":` + postRecord + `}`}, expect{status: 400, name: "InvalidRequest", message: "timezone"}},
		{"rule not an object", call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: `{"collection":"app.bsky.feed.post","recurrenceRule":"daily","timezone":"UTC","record":` + postRecord + `}`}, expect{status: 400, name: "InvalidRequest"}},

		{"listSchedules without repo", call{method: "GET", path: nsidSchedules + "listSchedules", as: alice}, expect{status: 400, name: "InvalidRequest", message: `Params must have the property "repo"`}},
		{"listSchedules repo not a did", call{method: "GET", path: nsidSchedules + "listSchedules?repo=alice.test", as: alice}, expect{status: 400, name: "InvalidRequest", message: "repo must be a valid did"}},
		{"listSchedules of another", call{method: "GET", path: nsidSchedules + "listSchedules?repo=" + bob.DID.String(), as: alice}, expect{status: 401, name: "AuthenticationRequired", message: "You can only list your own schedules"}},
		{"listSchedules", call{method: "GET", path: nsidSchedules + "listSchedules?repo=" + a, as: alice}, expect{status: 200, has: []string{"schedules"}}},
		{"getSchedule without id", call{method: "GET", path: nsidSchedules + "getSchedule", as: alice}, expect{status: 400, name: "InvalidRequest"}},
		{"getSchedule missing", call{method: "GET", path: nsidSchedules + "getSchedule?id=nope", as: alice}, expect{status: 400, name: "NotFound", message: "Schedule not found"}},
		{"getSchedule of another", call{method: "GET", path: nsidSchedules + "getSchedule?id=" + id, as: bob}, expect{status: 401, name: "AuthenticationRequired", message: "You can only view your own schedules"}},
		{"getSchedule", call{method: "GET", path: nsidSchedules + "getSchedule?id=" + id, as: alice}, expect{status: 200, has: []string{"schedule"}}},
		{"updateSchedule missing", call{method: "POST", path: nsidSchedules + "updateSchedule", as: alice, body: `{"id":"nope","status":"paused"}`}, expect{status: 400, name: "NotFound", message: "Schedule not found"}},
		{"updateSchedule of another", call{method: "POST", path: nsidSchedules + "updateSchedule", as: bob, body: `{"id":"` + id + `","status":"paused"}`}, expect{status: 401, name: "AuthenticationRequired", message: "You can only update your own schedules"}},
		{"updateSchedule weird status", call{method: "POST", path: nsidSchedules + "updateSchedule", as: alice, body: `{"id":"` + id + `","status":"weird"}`}, expect{status: 400, name: "InvalidRequest", message: "status must be active or paused"}},
		{"updateSchedule record and contentUrl", call{method: "POST", path: nsidSchedules + "updateSchedule", as: alice, body: `{"id":"` + id + `","record":` + postRecord + `,"contentUrl":"https://content.example/"}`}, expect{status: 400, name: "InvalidRequest", message: "mutually exclusive"}},
		{"updateSchedule hour 25", call{method: "POST", path: nsidSchedules + "updateSchedule", as: alice, body: `{"id":"` + id + `","recurrenceRule":` + ruleOf(`{"type":"daily","time":`+wall(25, 0)+`}`) + `}`}, expect{status: 400, name: "InvalidRequest", message: "hour"}},
		{"deleteSchedule missing", call{method: "POST", path: nsidSchedules + "deleteSchedule", as: alice, body: `{"id":"nope"}`}, expect{status: 400, name: "NotFound", message: "Schedule not found"}},
		{"deleteSchedule of another", call{method: "POST", path: nsidSchedules + "deleteSchedule", as: bob, body: `{"id":"` + id + `"}`}, expect{status: 401, name: "AuthenticationRequired", message: "You can only delete your own schedules"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.check(t, g.do(t, tt.call))
		})
	}
}

// A schedule's life over XRPC: created with its first occurrence queued
// as a draft that names it; paused (the draft cancelled), resumed (a new
// draft), its rule changed (requeued at the new time), deleted.
func TestXRPCScheduleLifecycle(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	alice := g.alice
	res := g.do(t, call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: scheduleBody(dailyRule, `,"record":`+postRecord)})
	s := res.body["schedule"].(map[string]any)
	for _, k := range []string{"id", "collection", "status", "recurrenceRule", "timezone", "fireCount", "createdAt", "updatedAt", "nextDraftUri", "record"} {
		if _, ok := s[k]; !ok {
			t.Fatalf("schedule view lacks %q: %s", k, res.raw)
		}
	}
	if s["status"] != "active" || s["fireCount"] != float64(0) || s["timezone"] != "Europe/London" {
		t.Fatalf("new schedule %s", res.raw)
	}
	id, first := s["id"].(string), s["nextDraftUri"].(string)
	post := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + first, as: alice})
	if post.body["scheduleId"] != id || post.body["status"] != "scheduled" || post.body["scheduledAt"] != s["nextOccurrenceAt"] {
		t.Fatalf("queued draft %s, want scheduled with scheduleId %s at %v", post.raw, id, s["nextOccurrenceAt"])
	}
	if !strings.HasSuffix(post.body["scheduledAt"].(string), ":00:00.000Z") {
		t.Fatalf("09:00 London is on the hour in UTC: %v", post.body["scheduledAt"])
	}

	update := func(body string) map[string]any {
		t.Helper()
		a := g.do(t, call{method: "POST", path: nsidSchedules + "updateSchedule", as: alice, body: `{"id":"` + id + `"` + body + `}`})
		if a.status != 200 {
			t.Fatalf("updateSchedule %s: %d %s", body, a.status, a.raw)
		}
		return a.body["schedule"].(map[string]any)
	}
	statusOf := func(uri string) any {
		return g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + uri, as: alice}).body["status"]
	}

	paused := update(`,"status":"paused"`)
	if paused["status"] != "paused" || paused["nextDraftUri"] != nil || statusOf(first) != "cancelled" {
		t.Fatalf("paused: %v, queued draft %v", paused, statusOf(first))
	}
	if again := update(`,"status":"paused"`); again["status"] != "paused" {
		t.Fatalf("paused twice: %v", again)
	}
	resumed := update(`,"status":"active"`)
	second, _ := resumed["nextDraftUri"].(string)
	if resumed["status"] != "active" || second == "" || statusOf(second) != "scheduled" {
		t.Fatalf("resumed: %v", resumed)
	}

	// A new rule requeues the occurrence at the new time.
	changed := update(`,"recurrenceRule":{"rule":{"type":"daily","time":{"type":"wall_time","hour":17,"minute":30,"timezone":"UTC"}}}`)
	third, _ := changed["nextDraftUri"].(string)
	if third == "" || third == second || statusOf(second) != "cancelled" || !strings.HasSuffix(changed["nextOccurrenceAt"].(string), "T17:30:00.000Z") {
		t.Fatalf("after a rule change: %v (old draft %v)", changed, statusOf(second))
	}
	// The content can move from a record to a content URL.
	dynamic := update(`,"contentUrl":"https://content.example/today"`)
	if dynamic["contentUrl"] != "https://content.example/today" || dynamic["record"] != nil {
		t.Fatalf("after a contentUrl update: %v", dynamic)
	}
	if d := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + dynamic["nextDraftUri"].(string), as: alice}); d.body["record"] != nil {
		t.Fatalf("the dynamic occurrence's draft has a record: %s", d.raw)
	}

	list := g.do(t, call{method: "GET", path: nsidSchedules + "listSchedules?status=active&repo=" + alice.DID.String(), as: alice})
	if n := len(list.body["schedules"].([]any)); n != 1 {
		t.Fatalf("%d active schedules listed, want 1: %s", n, list.raw)
	}
	if unknown := g.do(t, call{method: "GET", path: nsidSchedules + "listSchedules?status=weird&repo=" + alice.DID.String(), as: alice}); len(unknown.body["schedules"].([]any)) != 0 {
		t.Fatalf("unknown status listed %s", unknown.raw)
	}

	del := g.do(t, call{method: "POST", path: nsidSchedules + "deleteSchedule", as: alice, body: `{"id":"` + id + `"}`})
	if del.status != 200 || del.raw != "{}\n" {
		t.Fatalf("deleteSchedule: %d %q", del.status, del.raw)
	}
	got := g.do(t, call{method: "GET", path: nsidSchedules + "getSchedule?id=" + id, as: alice}).body["schedule"].(map[string]any)
	if got["status"] != "cancelled" || statusOf(dynamic["nextDraftUri"].(string)) != "cancelled" {
		t.Fatalf("after delete: %v", got)
	}
	if a := g.do(t, call{method: "POST", path: nsidSchedules + "updateSchedule", as: alice, body: `{"id":"` + id + `","status":"active"}`}); a.status != 400 {
		t.Fatalf("resuming a deleted schedule: %d %s", a.status, a.raw)
	}
}

// listSchedules pages newest first without skipping or repeating ties.
func TestXRPCListSchedulesPages(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	for range 5 {
		if a := g.do(t, call{method: "POST", path: nsidSchedules + "createSchedule", as: g.alice, body: scheduleBody(dailyRule, `,"record":`+postRecord)}); a.status != 200 {
			t.Fatal(a.raw)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < 5; page++ {
		path := nsidSchedules + "listSchedules?limit=2&repo=" + g.alice.DID.String()
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a := g.do(t, call{method: "GET", path: path, as: g.alice})
		for _, s := range a.body["schedules"].([]any) {
			id := s.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("schedule %s listed twice", id)
			}
			seen[id] = true
		}
		cursor, _ = a.body["cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("%d schedules listed over the pages, want 5", len(seen))
	}
}

// DISABLE_RECURRING refuses createSchedule with the reference's 401, before
// authentication; the Connect API refuses it too.
func TestRecurringDisabled(t *testing.T) {
	t.Parallel()
	g := startTuned(t, node.Roles{Gateway: true}, func(o *node.Options) { o.DisableRecurring = true })
	a := g.do(t, call{method: "POST", path: nsidSchedules + "createSchedule", body: scheduleBody(dailyRule, `,"record":`+postRecord)})
	expect{status: 401, name: "AuthenticationRequired", message: "Recurring schedules are disabled on this server"}.check(t, a)
	c := alfv1connect.NewScheduleServiceClient(http.DefaultClient, g.base, signer(t, g.alice))
	_, err := c.CreateSchedule(context.Background(), connect.NewRequest(&alfv1.CreateScheduleRequest{
		Collection: "app.bsky.feed.post", Rule: mustRule(t, map[string]any{"rrule": "FREQ=DAILY;BYHOUR=9"}), Timezone: "UTC", Record: post(t, "x"),
	}))
	if code(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("Connect CreateSchedule with recurring disabled: %v", err)
	}
}

// The Connect ScheduleService does what the XRPC routes do.
func TestConnectScheduleService(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx := context.Background()
	c := alfv1connect.NewScheduleServiceClient(http.DefaultClient, g.base, signer(t, g.alice))
	rule := mustRule(t, map[string]any{"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"})
	res, err := c.CreateSchedule(ctx, connect.NewRequest(&alfv1.CreateScheduleRequest{
		Collection: "app.bsky.feed.post", Rule: rule, Timezone: "America/New_York", Record: post(t, "weekly"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Msg.Schedule
	if s.Status != alfv1.ScheduleStatus_SCHEDULE_STATUS_ACTIVE || s.NextDraftUri == "" || s.Rule.Fields["timezone"].GetStringValue() != "America/New_York" {
		t.Fatalf("created %v", s)
	}
	if hour := s.NextOccurrenceAt.AsTime().In(mustZone(t, "America/New_York")).Hour(); hour != 9 {
		t.Fatalf("next occurrence at %d:00 New York, want 9:00", hour)
	}
	d, err := g.drafts(t, g.alice).GetDraft(ctx, connect.NewRequest(&alfv1.GetDraftRequest{Uri: s.NextDraftUri}))
	if err != nil || d.Msg.Draft.ScheduleId != s.Id {
		t.Fatalf("queued draft %v, %v", d, err)
	}

	// A new RFC 5545 rule naming no zone keeps the schedule's zone.
	changed, err := c.UpdateSchedule(ctx, connect.NewRequest(&alfv1.UpdateScheduleRequest{
		Id: s.Id, Rule: mustRule(t, map[string]any{"rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9;BYMINUTE=0"}),
	}))
	if err != nil || changed.Msg.Schedule.Rule.Fields["timezone"].GetStringValue() != "America/New_York" {
		t.Fatalf("rule update: %v, %v", changed, err)
	}
	if at := changed.Msg.Schedule.NextOccurrenceAt.AsTime().In(mustZone(t, "America/New_York")); at.Weekday() != time.Tuesday || at.Hour() != 9 {
		t.Fatalf("requeued at %s, want a Tuesday 09:00 in New York", at)
	}
	// A rule with no future occurrence is refused for an active schedule.
	if _, err := c.UpdateSchedule(ctx, connect.NewRequest(&alfv1.UpdateScheduleRequest{
		Id: s.Id, Rule: mustRule(t, map[string]any{"rrule": "FREQ=DAILY;BYHOUR=9;COUNT=1", "startDate": "2020-01-01"}),
	})); code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "no future occurrences") {
		t.Fatalf("a rule with no future occurrence: %v", err)
	}

	paused, err := c.UpdateSchedule(ctx, connect.NewRequest(&alfv1.UpdateScheduleRequest{Id: s.Id, Status: alfv1.ScheduleStatus_SCHEDULE_STATUS_PAUSED}))
	if err != nil || paused.Msg.Schedule.Status != alfv1.ScheduleStatus_SCHEDULE_STATUS_PAUSED || paused.Msg.Schedule.NextDraftUri != "" {
		t.Fatalf("pause: %v, %v", paused, err)
	}
	if _, err := c.UpdateSchedule(ctx, connect.NewRequest(&alfv1.UpdateScheduleRequest{Id: s.Id, Status: alfv1.ScheduleStatus_SCHEDULE_STATUS_COMPLETED})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("setting status completed: %v, want invalid argument", err)
	}
	list, err := c.ListSchedules(ctx, connect.NewRequest(&alfv1.ListSchedulesRequest{Status: alfv1.ScheduleStatus_SCHEDULE_STATUS_PAUSED}))
	if err != nil || len(list.Msg.Schedules) != 1 {
		t.Fatalf("list paused: %v, %v", list, err)
	}
	other := alfv1connect.NewScheduleServiceClient(http.DefaultClient, g.base, signer(t, g.bob))
	if _, err := other.GetSchedule(ctx, connect.NewRequest(&alfv1.GetScheduleRequest{Id: s.Id})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("another account's GetSchedule: %v", err)
	}
	del, err := c.DeleteSchedule(ctx, connect.NewRequest(&alfv1.DeleteScheduleRequest{Id: s.Id}))
	if err != nil || del.Msg.Schedule.Status != alfv1.ScheduleStatus_SCHEDULE_STATUS_CANCELLED {
		t.Fatalf("delete: %v, %v", del, err)
	}
	if _, err := c.GetSchedule(ctx, connect.NewRequest(&alfv1.GetScheduleRequest{Id: "nope"})); code(err) != connect.CodeNotFound {
		t.Fatalf("GetSchedule of nothing: %v", err)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

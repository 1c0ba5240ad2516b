package recurrence

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// vector is one entry of testdata/vectors.json: the §8.7 engine vectors of
// the reference specification plus alf's own. Fixed, when set, says how
// and why alf's expectation differs from the reference's answer.
type vector struct {
	Name   string          `json:"name"`
	Rule   json.RawMessage `json:"rule"`
	After  time.Time       `json:"after"`
	Anchor time.Time       `json:"anchor"`
	Want   []time.Time     `json:"want"` // successive occurrences; empty = none
	End    bool            `json:"end"`  // no occurrence follows Want
	Fixed  string          `json:"fixed"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(v.Rule)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			r.Anchor = v.Anchor
			after := v.After
			for i, want := range v.Want {
				got, ok := r.Next(after)
				if !ok || !got.Equal(want) {
					t.Fatalf("occurrence %d after %s = %s, %v; want %s (%s)", i, after, got, ok, want, v.Fixed)
				}
				after = got
			}
			if len(v.Want) == 0 || v.End {
				if got, ok := r.Next(after); ok {
					t.Fatalf("Next(%s) = %s, want none (%s)", after, got, v.Fixed)
				}
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json, field string
	}{
		{"unknown type", `{"rule":{"type":"hourly","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.type"},
		{"missing type", `{"rule":{"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.type"},
		{"missing rule", `{"startDate":"2024-01-01"}`, "rule"},
		{"missing time", `{"rule":{"type":"daily"}}`, "rule.time"},
		{"hour 25", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":25,"minute":0,"timezone":"UTC"}}}`, "rule.time.hour"},
		{"minute 99", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":99,"timezone":"UTC"}}}`, "rule.time.minute"},
		{"missing hour", `{"rule":{"type":"daily","time":{"type":"wall_time","minute":0,"timezone":"UTC"}}}`, "rule.time.hour"},
		{"hour as string", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":"9","minute":0,"timezone":"UTC"}}}`, "rule.time.hour"},
		{"second 60", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"second":60,"timezone":"UTC"}}}`, "rule.time.second"},
		{"bad zone", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"Mars/Olympus"}}}`, "rule.time.timezone"},
		{"Local zone", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"Local"}}}`, "rule.time.timezone"},
		{"missing zone", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0}}}`, "rule.time.timezone"},
		{"unknown time type", `{"rule":{"type":"daily","time":{"type":"floating","hour":9,"minute":0}}}`, "rule.time.type"},
		{"offset out of range", `{"rule":{"type":"daily","time":{"type":"fixed_instant","utcOffsetMinutes":2000,"hour":9,"minute":0}}}`, "rule.time.utcOffsetMinutes"},
		{"weekday 9", `{"rule":{"type":"weekly","daysOfWeek":[1,9],"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.daysOfWeek[1]"},
		{"empty daysOfWeek", `{"rule":{"type":"weekly","daysOfWeek":[],"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.daysOfWeek"},
		{"missing daysOfWeek", `{"rule":{"type":"weekly","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.daysOfWeek"},
		{"nth weekday 9", `{"rule":{"type":"monthly_nth_weekday","nth":1,"weekday":9,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.weekday"},
		{"nth 6", `{"rule":{"type":"monthly_nth_weekday","nth":6,"weekday":1,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.nth"},
		{"nth -2", `{"rule":{"type":"monthly_nth_weekday","nth":-2,"weekday":1,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.nth"},
		{"month 13", `{"rule":{"type":"yearly_on_month_day","month":13,"dayOfMonth":1,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.month"},
		{"dayOfMonth 0", `{"rule":{"type":"monthly_on_day","dayOfMonth":0,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.dayOfMonth"},
		{"dayOfMonth 40", `{"rule":{"type":"monthly_on_day","dayOfMonth":40,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.dayOfMonth"},
		{"quarterly weekday missing", `{"rule":{"type":"quarterly_last_weekday","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.weekday"},
		{"interval 0", `{"rule":{"type":"daily","interval":0,"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`, "rule.interval"},
		{"once without datetime", `{"rule":{"type":"once"}}`, "rule.datetime"},
		{"once local datetime", `{"rule":{"type":"once","datetime":"2024-06-15T10:00:00"}}`, "rule.datetime"},
		{"bad startDate", `{"rule":{"type":"once","datetime":"2024-06-15T10:00:00Z"},"startDate":"2024-02-30"}`, "startDate"},
		{"endDate before startDate", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"startDate":"2024-02-01","endDate":"2024-01-01"}`, "endDate"},
		{"count 0", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"count":0}`, "count"},
		{"count float", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"count":1.5}`, "count"},
		{"revision without time", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"revisions":[{"effectiveFromDate":"2024-01-01","rule":{"type":"daily"}}]}`, "revisions[0].rule.time"},
		{"revision bad date", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"revisions":[{"effectiveFromDate":"soon","rule":{"type":"daily"}}]}`, "revisions[0].effectiveFromDate"},
		{"exception bad type", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"exceptions":[{"date":"2024-01-01","type":"skip"}]}`, "exceptions[0].type"},
		{"exception bad date", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"exceptions":[{"date":"01/01/2024","type":"cancel"}]}`, "exceptions[0].date"},
		{"move without newDatetime", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"exceptions":[{"date":"2024-01-01","type":"move"}]}`, "exceptions[0].newDatetime"},
		{"override_time hour 25", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"exceptions":[{"date":"2024-01-01","type":"override_time","time":{"type":"wall_time","hour":25,"minute":0,"timezone":"UTC"}}]}`, "exceptions[0].time.hour"},
		{"override_payload not an object", `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}},"exceptions":[{"date":"2024-01-01","type":"override_payload","record":"hi"}]}`, "exceptions[0].record"},
		{"rrule bad", `{"rrule":"FREQ=SOMETIMES","timezone":"UTC"}`, "rrule"},
		{"rrule secondly", `{"rrule":"FREQ=SECONDLY","timezone":"UTC"}`, "rrule"},
		{"rrule daily without BYHOUR", `{"rrule":"FREQ=DAILY","timezone":"UTC"}`, "rrule"},
		{"rrule never occurs", `{"rrule":"FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30","timezone":"UTC"}`, "rrule"},
		{"rrule DTSTART", `{"rrule":"DTSTART:20240101T090000Z\nRRULE:FREQ=DAILY;BYHOUR=9","timezone":"UTC"}`, "rrule"},
		{"rrule without zone", `{"rrule":"FREQ=DAILY;BYHOUR=9"}`, "timezone"},
		{"rrule bad zone", `{"rrule":"FREQ=DAILY;BYHOUR=9","timezone":"Nowhere/Land"}`, "timezone"},
		{"rrule with rule", `{"rrule":"FREQ=DAILY;BYHOUR=9","timezone":"UTC","rule":{"type":"once","datetime":"2024-06-15T10:00:00Z"}}`, "rule"},
		{"rrule with move", `{"rrule":"FREQ=DAILY;BYHOUR=9","timezone":"UTC","exceptions":[{"date":"2024-01-01","type":"move","newDatetime":"2024-01-01T10:00:00Z"}]}`, "exceptions[0].type"},
		{"not JSON", `{"rule":`, ""},
		{"not an object", `[1,2]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse([]byte(tt.json))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %+v, %v; want a *FieldError", r, err)
			}
			if fe.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(v.Rule)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := Parse(b)
			if err != nil {
				t.Fatalf("re-Parse %s: %v", b, err)
			}
			r.Anchor, r2.Anchor = v.Anchor, v.Anchor
			a, b2 := r.Occurrences(v.After, 5), r2.Occurrences(v.After, 5)
			if len(a) != len(b2) {
				t.Fatalf("round trip changed the series: %v vs %v", a, b2)
			}
			for i := range a {
				if !a[i].At.Equal(b2[i].At) {
					t.Fatalf("round trip changed occurrence %d: %s vs %s", i, a[i].At, b2[i].At)
				}
			}
		})
	}
}

func TestOccurrenceDetails(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte(`{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"America/New_York"}},
		"exceptions":[{"date":"2024-03-15","type":"override_payload","record":{"text":"special"}},
		{"date":"2024-03-16","type":"move","newDatetime":"2024-03-16T20:00:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Anchor = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	got := r.Occurrences(time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), 3)
	want := []struct {
		at, date, local, ex, record string
	}{
		{"2024-03-15T13:00:00Z", "2024-03-15", "2024-03-15T09:00:00-04:00", "override_payload", `{"text":"special"}`},
		{"2024-03-16T20:00:00Z", "2024-03-16", "2024-03-16T16:00:00-04:00", "move", ""},
		{"2024-03-17T13:00:00Z", "2024-03-17", "2024-03-17T09:00:00-04:00", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d occurrences, want %d", len(got), len(want))
	}
	for i, w := range want {
		o := got[i]
		ex := ""
		if len(o.Exceptions) > 0 {
			ex = o.Exceptions[0]
		}
		if o.At.Format(time.RFC3339) != w.at || o.Date != w.date || o.Local != w.local || ex != w.ex || string(o.Record) != w.record {
			t.Errorf("occurrence %d = %+v, want %+v", i, o, w)
		}
	}
	// The payload is found by the occurrence, even when the publish is retried later.
	o, ok := r.OccurrenceAt(time.Date(2024, 3, 15, 13, 0, 0, 0, time.UTC))
	if !ok || string(o.Record) != `{"text":"special"}` {
		t.Fatalf("OccurrenceAt = %+v, %v", o, ok)
	}
	if _, ok := r.OccurrenceAt(time.Date(2024, 3, 16, 4, 0, 0, 0, time.UTC)); ok {
		t.Fatal("OccurrenceAt a time that is not an occurrence")
	}
	if p := r.Payload("2024-03-16"); p != nil {
		t.Fatalf("Payload(2024-03-16) = %s", p)
	}
}

func TestAnswerIndependentOfQueryTime(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte(`{"rule":{"type":"weekly","interval":3,"daysOfWeek":[2,4],"time":{"type":"wall_time","hour":7,"minute":15,"timezone":"Europe/Berlin"}},"count":12,"startDate":"2024-01-01"}`))
	if err != nil {
		t.Fatal(err)
	}
	all := r.Occurrences(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), 100)
	if len(all) != 12 {
		t.Fatalf("%d occurrences, want 12", len(all))
	}
	// Asking from any instant gives the same next occurrence as the full list.
	for q := time.Date(2023, 12, 30, 0, 0, 0, 0, time.UTC); q.Before(all[11].At.Add(48 * time.Hour)); q = q.Add(7 * time.Hour) {
		var want time.Time
		for _, o := range all {
			if o.At.After(q) {
				want = o.At
				break
			}
		}
		got, ok := r.Next(q)
		if ok != !want.IsZero() || !got.Equal(want) {
			t.Fatalf("Next(%s) = %s, %v; want %s", q, got, ok, want)
		}
	}
}

func Example() {
	r, err := Parse([]byte(`{"rule":{"type":"daily","time":{"type":"wall_time","hour":2,"minute":30,"timezone":"America/New_York"}},"count":3}`))
	if err != nil {
		panic(err)
	}
	r.Anchor = time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC) // the schedule's creation
	for _, o := range r.Occurrences(r.Anchor, 10) {
		fmt.Println(o.At.Format(time.RFC3339), o.Local)
	}
	// Output:
	// 2024-03-10T07:30:00Z 2024-03-10T03:30:00-04:00
	// 2024-03-11T06:30:00Z 2024-03-11T02:30:00-04:00
	// 2024-03-12T06:30:00Z 2024-03-12T02:30:00-04:00
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := Rule{Core: Core{Type: Weekly, DaysOfWeek: []int{1}, Time: &TimeSpec{Type: WallTime, Hour: 9, Timezone: "Europe/Paris"}}}
	tests := []struct {
		name  string
		rule  Rule
		field string
	}{
		{"valid", good, ""},
		{"no time", Rule{Core: Core{Type: Daily}}, "rule.time"},
		{"no days", Rule{Core: Core{Type: Weekly, Time: good.Core.Time}}, "rule.daysOfWeek"},
		{"hour 24", Rule{Core: Core{Type: Daily, Time: &TimeSpec{Type: WallTime, Hour: 24, Timezone: "UTC"}}}, "rule.time.hour"},
		{"bad zone", Rule{Core: Core{Type: Daily, Time: &TimeSpec{Type: WallTime, Timezone: "Europe/Nowhere"}}}, "rule.time.timezone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.rule.Validate()
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate = %v", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Fatalf("Validate = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
}

func ExampleParse_malformed() {
	_, err := Parse([]byte(`{"rule":{"type":"weekly","daysOfWeek":[1,9],"time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`))
	var fe *FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field)
		fmt.Println(err)
	}
	// Output:
	// rule.daysOfWeek[1]
	// recurrence rule: rule.daysOfWeek[1]: must be between 0 (Sunday) and 6 (Saturday), got 9
}

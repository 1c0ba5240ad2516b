package english_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/recurrence/english"
)

// TestRoundTrip checks that Parse reads what Format says back into the same
// rule, for every rule Parse gives in testdata/parse.json and for a
// generated set covering every rule type, weekday, month, day, nth, zone
// label and offset Format can say. Rules Format cannot say exactly are not
// in the set: seconds, a quarterly interval, offset 0 (said "UTC", read as
// the UTC zone), numbers that are no weekday or month, and zone names that
// are also zone words ("EST").
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	var rules []json.RawMessage
	for _, tc := range loadParseCases(t) {
		if tc.Want != nil {
			rules = append(rules, tc.Want)
		}
	}
	rules = append(rules, generatedRules(t)...)
	for _, rule := range rules {
		text, err := english.Format(rule)
		if err != nil {
			t.Errorf("Format(%s): %v", rule, err)
			continue
		}
		back, err := english.Parse(text, "UTC")
		if err != nil {
			t.Errorf("Parse(Format(%s) = %q): %v", rule, text, err)
			continue
		}
		if !sameJSON(t, back, rule) {
			t.Errorf("round trip of %s\n  said %q\n  read %s", rule, text, back)
		}
	}
	t.Logf("%d rules", len(rules))
}

var (
	roundTripZones = []string{
		"UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
		"Europe/London", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney", "America/Phoenix",
		"Asia/Kolkata", "Australia/Lord_Howe", "America/Argentina/Buenos_Aires", "Pacific/Chatham",
		"Etc/GMT+5", "Africa/Casablanca", "America/Port-au-Prince",
	}
	roundTripOffsets = []int{-720, -330, -30, 60, 345, 840}
	roundTripClocks  = [][2]int{{0, 0}, {0, 30}, {9, 0}, {9, 5}, {12, 0}, {12, 30}, {17, 45}, {23, 59}}
	roundTripDays    = [][]int{{0}, {1}, {6}, {1, 5}, {1, 3, 5}, {1, 2, 3, 4, 5}, {0, 6}, {0, 1, 2, 3, 4, 5, 6}, {2, 4}}
	roundTripEvery   = []int{1, 2, 3, 12}
)

// generatedRules builds rules of every type; each takes the next time spec
// and end conditions in turn, so that all of them meet every type.
func generatedRules(t *testing.T) []json.RawMessage {
	var cores []map[string]any
	add := func(typ string, fields map[string]any) {
		for _, n := range roundTripEvery {
			core := map[string]any{"type": typ, "interval": n}
			for k, v := range fields {
				core[k] = v
			}
			cores = append(cores, core)
		}
	}
	add("daily", nil)
	add("monthly_last_business_day", nil)
	for _, days := range roundTripDays {
		add("weekly", map[string]any{"daysOfWeek": days})
	}
	for d := 1; d <= 31; d++ {
		add("monthly_on_day", map[string]any{"dayOfMonth": d})
	}
	for wd := range 7 {
		cores = append(cores, map[string]any{"type": "quarterly_last_weekday", "interval": 1, "weekday": wd})
		for _, nth := range []int{-1, 1, 2, 3, 4, 5} {
			add("monthly_nth_weekday", map[string]any{"nth": nth, "weekday": wd})
			for m := 1; m <= 12; m++ {
				add("yearly_nth_weekday", map[string]any{"month": m, "nth": nth, "weekday": wd})
			}
		}
	}
	for m := 1; m <= 12; m++ {
		for d := 1; d <= time.Date(2024, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC).Day(); d++ {
			add("yearly_on_month_day", map[string]any{"month": m, "dayOfMonth": d})
		}
	}
	specs := timeSpecs()
	for _, zone := range roundTripZones { // every label with every clock
		for _, c := range roundTripClocks {
			cores = append(cores, map[string]any{"type": "daily", "interval": 1, "time": wallTime(c, zone)})
		}
	}
	var rules []json.RawMessage
	for i, core := range cores {
		if core["time"] == nil {
			core["time"] = specs[i%len(specs)]
		}
		rule := endConditions(i)
		rule["rule"] = core
		rules = append(rules, mustJSON(t, rule))
	}
	for _, at := range []string{"2024-03-15T14:30:00.000Z", "2026-01-01T00:00:00.000Z", "2030-12-31T23:59:00.000Z", "2024-02-29T12:00:00.000Z"} {
		rules = append(rules, mustJSON(t, map[string]any{"rule": map[string]any{"type": "once", "datetime": at}}))
	}
	return rules
}

// timeSpecs are wall times in every zone and times at every offset, with
// clocks cycling independently of zones.
func timeSpecs() []map[string]any {
	var specs []map[string]any
	for i, zone := range roundTripZones {
		specs = append(specs, wallTime(roundTripClocks[i%len(roundTripClocks)], zone))
	}
	for i, off := range roundTripOffsets {
		c := roundTripClocks[(i+3)%len(roundTripClocks)]
		specs = append(specs, map[string]any{"type": "fixed_instant", "hour": c[0], "minute": c[1], "utcOffsetMinutes": off})
	}
	return specs
}

func wallTime(c [2]int, zone string) map[string]any {
	return map[string]any{"type": "wall_time", "hour": c[0], "minute": c[1], "timezone": zone}
}

// endConditions cycles through no end, a start date, an end date, a count
// and all three.
func endConditions(i int) map[string]any {
	switch i % 5 {
	case 1:
		return map[string]any{"startDate": "2026-04-01"}
	case 2:
		return map[string]any{"endDate": "2027-12-31"}
	case 3:
		return map[string]any{"count": 1 + i%7}
	case 4:
		return map[string]any{"startDate": "2026-03-01", "endDate": "2026-06-30", "count": 10}
	}
	return map[string]any{}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(fmt.Errorf("marshal %v: %w", v, err))
	}
	return data
}

package recurrence

import (
	"testing"
	"time"
)

// BenchmarkNext measures one next-occurrence computation per rule type, for
// a series that started a year before the query.
func BenchmarkNext(b *testing.B) {
	const tm = `"time":{"type":"wall_time","hour":9,"minute":30,"timezone":"America/New_York"}`
	rules := []struct{ name, json string }{
		{"once", `{"rule":{"type":"once","datetime":"2025-06-15T10:00:00Z"}}`},
		{"daily", `{"rule":{"type":"daily",` + tm + `}}`},
		{"daily_interval3_count500", `{"rule":{"type":"daily","interval":3,` + tm + `},"count":500}`},
		{"weekly", `{"rule":{"type":"weekly","daysOfWeek":[1,3,5],` + tm + `}}`},
		{"monthly_on_day", `{"rule":{"type":"monthly_on_day","dayOfMonth":31,` + tm + `}}`},
		{"monthly_nth_weekday", `{"rule":{"type":"monthly_nth_weekday","nth":-1,"weekday":5,` + tm + `}}`},
		{"monthly_last_business_day", `{"rule":{"type":"monthly_last_business_day",` + tm + `}}`},
		{"yearly_on_month_day", `{"rule":{"type":"yearly_on_month_day","month":2,"dayOfMonth":29,` + tm + `}}`},
		{"yearly_nth_weekday", `{"rule":{"type":"yearly_nth_weekday","month":11,"nth":4,"weekday":4,` + tm + `}}`},
		{"quarterly_last_weekday", `{"rule":{"type":"quarterly_last_weekday","weekday":5,` + tm + `}}`},
		{"daily_exceptions_revision", `{"rule":{"type":"daily",` + tm + `},"exceptions":[{"date":"2025-03-10","type":"cancel"},{"date":"2025-03-11","type":"move","newDatetime":"2025-03-11T20:00:00Z"}],"revisions":[{"effectiveFromDate":"2025-01-01","rule":{"type":"weekly","daysOfWeek":[2],` + tm + `}}]}`},
		{"rrule_weekly", `{"rrule":"FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=9;BYMINUTE=30","timezone":"America/New_York"}`},
		{"rrule_monthly_bysetpos", `{"rrule":"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17","timezone":"America/New_York"}`},
	}
	anchor := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	after := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
	for _, rb := range rules {
		r, err := Parse([]byte(rb.json))
		if err != nil {
			b.Fatalf("%s: %v", rb.name, err)
		}
		r.Anchor = anchor
		b.Run(rb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Next(after)
			}
		})
	}
}

package recurrence

import (
	"fmt"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
)

// The DST property tests: over 2020–2030, in zones with every kind of
// transition (1 h, 30 min, at midnight, none, abolished), a rule fires
// exactly once on each of its local dates, at the local wall time where it
// exists, at the earlier instant where it is ambiguous and at wall time +
// gap where it does not exist.

var propertyZones = []string{
	"America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago",
	"Asia/Kolkata", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland",
	"America/Havana", "Pacific/Chatham", "America/St_Johns", "Africa/Cairo",
	"Asia/Tehran", "America/Sao_Paulo",
}

var propertyTimes = [][2]int{{0, 30}, {1, 30}, {2, 30}, {12, 0}}

var (
	propFrom = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	propTo   = time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC)
)

// oracle resolves a wall time without the engine's code: it tries the
// offsets in force 36 hours either side; valid readings → the earliest;
// none (a gap) → the wall time read with the offset before the gap.
func oracle(loc *time.Location, y int, m time.Month, d, hh, mm int) (time.Time, bool) {
	naive := time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
	_, before := naive.Add(-36 * time.Hour).In(loc).Zone()
	_, after := naive.Add(36 * time.Hour).In(loc).Zone()
	var best time.Time
	for _, off := range []int{before, after} {
		u := naive.Add(-time.Duration(off) * time.Second)
		if _, o := u.In(loc).Zone(); o == off && (best.IsZero() || u.Before(best)) {
			best = u
		}
	}
	if !best.IsZero() {
		return best, true
	}
	return naive.Add(-time.Duration(before) * time.Second), false
}

// wantDates lists the local dates in [propFrom, propTo] that keep says are
// series dates.
func wantDates(keep func(time.Time) bool) []time.Time {
	var out []time.Time
	for d := propFrom; !d.After(propTo); d = d.AddDate(0, 0, 1) {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func checkSeries(t *testing.T, ruleJSON string, zone string, hh, mm int, dates []time.Time) {
	t.Helper()
	r, err := Parse([]byte(ruleJSON))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(zone)
	occ := r.Occurrences(time.Date(2019, 12, 25, 0, 0, 0, 0, time.UTC), len(dates)+1)
	if len(occ) != len(dates) {
		t.Fatalf("%d occurrences, want %d", len(occ), len(dates))
	}
	gaps := 0
	for i, d := range dates {
		o := occ[i]
		if o.Date != d.Format(time.DateOnly) {
			t.Fatalf("occurrence %d on %s, want %s (missing or doubled date)", i, o.Date, d.Format(time.DateOnly))
		}
		want, exists := oracle(loc, d.Year(), d.Month(), d.Day(), hh, mm)
		if !o.At.Equal(want) {
			t.Fatalf("%s %02d:%02d fires at %s (%s), want %s", o.Date, hh, mm, o.At, o.Local, want)
		}
		if !exists {
			gaps++
		}
		if i > 0 && !o.At.After(occ[i-1].At) {
			t.Fatalf("occurrence %d at %s not after %s", i, o.At, occ[i-1].At)
		}
	}
	t.Logf("%d occurrences, %d in a DST gap", len(occ), gaps)
}

func wall(hh, mm int, zone string) string {
	return fmt.Sprintf(`{"type":"wall_time","hour":%d,"minute":%d,"timezone":%q}`, hh, mm, zone)
}

func TestDSTDaily(t *testing.T) {
	t.Parallel()
	all := wantDates(func(time.Time) bool { return true })
	for _, zone := range propertyZones {
		for _, hm := range propertyTimes {
			t.Run(fmt.Sprintf("%s/%02d:%02d", zone, hm[0], hm[1]), func(t *testing.T) {
				t.Parallel()
				rule := fmt.Sprintf(`{"rule":{"type":"daily","time":%s},"startDate":"2020-01-01","endDate":"2030-12-31"}`, wall(hm[0], hm[1], zone))
				checkSeries(t, rule, zone, hm[0], hm[1], all)
			})
		}
	}
}

func TestDSTWeekly(t *testing.T) {
	t.Parallel()
	// Sundays and Saturdays: most transitions happen on one of them.
	dates := wantDates(func(d time.Time) bool { return d.Weekday() == time.Sunday || d.Weekday() == time.Saturday })
	for _, zone := range propertyZones {
		for _, hm := range propertyTimes {
			t.Run(fmt.Sprintf("%s/%02d:%02d", zone, hm[0], hm[1]), func(t *testing.T) {
				t.Parallel()
				rule := fmt.Sprintf(`{"rule":{"type":"weekly","daysOfWeek":[6,0],"time":%s},"startDate":"2020-01-01","endDate":"2030-12-31"}`, wall(hm[0], hm[1], zone))
				checkSeries(t, rule, zone, hm[0], hm[1], dates)
			})
		}
	}
}

func TestDSTMonthly(t *testing.T) {
	t.Parallel()
	firstSunday := wantDates(func(d time.Time) bool { return d.Weekday() == time.Sunday && d.Day() <= 7 })
	lastDay := wantDates(func(d time.Time) bool { return d.AddDate(0, 0, 1).Day() == 1 })
	for _, zone := range propertyZones {
		for _, hm := range propertyTimes {
			name := fmt.Sprintf("%s/%02d:%02d", zone, hm[0], hm[1])
			t.Run(name+"/first-sunday", func(t *testing.T) {
				t.Parallel()
				rule := fmt.Sprintf(`{"rule":{"type":"monthly_nth_weekday","nth":1,"weekday":0,"time":%s},"startDate":"2020-01-01","endDate":"2030-12-31"}`, wall(hm[0], hm[1], zone))
				checkSeries(t, rule, zone, hm[0], hm[1], firstSunday)
			})
			t.Run(name+"/day-31", func(t *testing.T) {
				t.Parallel()
				rule := fmt.Sprintf(`{"rule":{"type":"monthly_on_day","dayOfMonth":31,"time":%s},"startDate":"2020-01-01","endDate":"2030-12-31"}`, wall(hm[0], hm[1], zone))
				checkSeries(t, rule, zone, hm[0], hm[1], lastDay)
			})
		}
	}
}

// TestWallInstant pins the resolution rule on known transitions.
func TestWallInstant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone         string
		y, m, d      int
		hh, mm       int
		want, reason string
	}{
		{"America/New_York", 2024, 3, 10, 2, 30, "2024-03-10T07:30:00Z", "gap: wall + 1h (03:30 EDT)"},
		{"America/New_York", 2024, 11, 3, 1, 30, "2024-11-03T05:30:00Z", "overlap: earlier (EDT)"},
		{"Europe/London", 2024, 3, 31, 1, 30, "2024-03-31T01:30:00Z", "gap: 02:30 BST"},
		{"Europe/London", 2024, 10, 27, 1, 30, "2024-10-27T00:30:00Z", "overlap: earlier (BST)"},
		{"Australia/Lord_Howe", 2024, 10, 6, 2, 15, "2024-10-05T15:45:00Z", "30-minute gap: 02:45 +11"},
		{"Australia/Lord_Howe", 2024, 4, 7, 1, 45, "2024-04-06T14:45:00Z", "30-minute overlap: earlier (+11)"},
		{"America/Santiago", 2024, 9, 8, 0, 30, "2024-09-08T04:30:00Z", "midnight gap: 01:30 -03"},
		{"America/Havana", 2024, 3, 10, 0, 30, "2024-03-10T05:30:00Z", "midnight gap: 01:30 CDT"},
		{"Asia/Kolkata", 2024, 3, 10, 2, 30, "2024-03-09T21:00:00Z", "no DST"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+"/"+tt.reason, func(t *testing.T) {
			t.Parallel()
			loc, err := loadZone(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			got := wallInstant(loc, tt.y, tt.m, tt.d, tt.hh, tt.mm, 0)
			if got.UTC().Format(time.RFC3339) != tt.want {
				t.Fatalf("got %s, want %s (%s)", got.UTC().Format(time.RFC3339), tt.want, tt.reason)
			}
		})
	}
}

func TestDSTRRule(t *testing.T) {
	t.Parallel()
	all := wantDates(func(time.Time) bool { return true })
	for _, zone := range propertyZones {
		for _, hm := range propertyTimes {
			t.Run(fmt.Sprintf("%s/%02d:%02d", zone, hm[0], hm[1]), func(t *testing.T) {
				t.Parallel()
				rule := fmt.Sprintf(`{"rrule":"FREQ=DAILY;BYHOUR=%d;BYMINUTE=%d","timezone":%q,"startDate":"2020-01-01","endDate":"2030-12-31"}`, hm[0], hm[1], zone)
				checkSeries(t, rule, zone, hm[0], hm[1], all)
			})
		}
	}
}

// TestRRuleGoGap pins why RFC 5545 rules run in floating time: rrule-go
// in the zone itself leaves a gap time to time.Date, which moves it back
// an hour (01:30 EST) instead of forward.
func TestRRuleGoGap(t *testing.T) {
	t.Parallel()
	ny, err := loadZone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	rr, err := rrule.NewRRule(rrule.ROption{
		Freq: rrule.DAILY, Byhour: []int{2}, Byminute: []int{30}, Bysecond: []int{0},
		Dtstart: time.Date(2024, 3, 10, 0, 0, 0, 0, ny),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rr.After(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), false).UTC(); !got.Equal(time.Date(2024, 3, 10, 6, 30, 0, 0, time.UTC)) {
		t.Fatalf("rrule-go alone gives %s; if it now resolves gaps forward, floating time may be dropped", got)
	}
	r, err := Parse([]byte(`{"rrule":"FREQ=DAILY;BYHOUR=2;BYMINUTE=30","timezone":"America/New_York","startDate":"2024-03-10"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Next(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2024, 3, 10, 7, 30, 0, 0, time.UTC)) {
		t.Fatalf("engine gives %s, want 07:30Z", got)
	}
}

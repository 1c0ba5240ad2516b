package recurrence

import (
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// RFC 5545 rules run through rrule-go in "floating" time: rrule-go sees
// wall times as UTC times (where no DST exists), and each wall time is then
// resolved in the rule's zone by wallInstant. Run in the zone itself,
// rrule-go leaves gap and overlap resolution to time.Date, which moves a
// gap time backwards (02:30 New York → 01:30 EST).

// compileRRule checks r.RRule and returns its options (floating times).
func compileRRule(r *Rule) (*rrule.ROption, error) {
	src := strings.TrimSpace(r.RRule)
	if strings.Contains(src, "\n") || strings.Contains(strings.ToUpper(src), "DTSTART") {
		return nil, fieldErr("rrule", "DTSTART is not supported; the series starts at startDate (or the schedule's creation)")
	}
	opt, err := rrule.StrToROptionInLocation(src, time.UTC)
	if err != nil {
		return nil, fieldErr("rrule", "invalid RFC 5545 rule: %v", err)
	}
	if opt.Freq == rrule.SECONDLY {
		return nil, fieldErr("rrule", "FREQ=SECONDLY is not supported")
	}
	if opt.Freq <= rrule.DAILY && len(opt.Byhour) == 0 {
		return nil, fieldErr("rrule", "BYHOUR is required (the time of day)")
	}
	if opt.Interval < 0 || opt.Interval > maxInterval {
		return nil, fieldErr("rrule", "INTERVAL must be between 1 and %d", maxInterval)
	}
	if opt.Count < 0 || opt.Count > maxCount {
		return nil, fieldErr("rrule", "COUNT must be between 1 and %d", maxCount)
	}
	if opt.Count > 0 && r.Count > 0 {
		return nil, fieldErr("count", "not allowed with an rrule COUNT")
	}
	if err := checkUntil(r, opt); err != nil {
		return nil, err
	}
	if _, err := rrule.NewRRule(*opt); err != nil {
		return nil, fieldErr("rrule", "invalid RFC 5545 rule: %v", err)
	}
	if !occursIn100Years(*opt) {
		return nil, fieldErr("rrule", "never occurs (no date matches all its BY… parts)")
	}
	return opt, nil
}

// occursIn100Years reports whether the rule, without COUNT or UNTIL, has an
// occurrence in the last century rrule-go covers. A rule matching nothing
// would otherwise make every query walk to year 9999.
func occursIn100Years(opt rrule.ROption) bool {
	opt.Count, opt.Until = 0, time.Time{}
	opt.Dtstart = time.Date(9899, 1, 1, 0, 0, 0, 0, time.UTC)
	rr, err := rrule.NewRRule(opt)
	if err != nil {
		return false
	}
	return !rr.After(opt.Dtstart, true).IsZero()
}

// checkUntil makes a UTC UNTIL (…Z) floating: its wall time in the zone.
func checkUntil(r *Rule, opt *rrule.ROption) error {
	if opt.Until.IsZero() || !strings.Contains(strings.ToUpper(r.RRule), "Z") {
		return nil
	}
	loc, err := loadZone(r.Timezone)
	if err != nil {
		return fieldErr("timezone", "unknown time zone %q", r.Timezone)
	}
	opt.Until = wallOf(opt.Until.In(loc))
	return nil
}

func (r *Rule) nextRRule(after time.Time) (Occurrence, bool) {
	loc, err := loadZone(r.Timezone)
	if err != nil {
		return Occurrence{}, false
	}
	opt, err := r.rruleOptions()
	if err != nil {
		return Occurrence{}, false
	}
	start, err := r.seriesStart(after, loc)
	if err != nil {
		return Occurrence{}, false
	}
	y, m, d := start.ymd()
	opt.Dtstart = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	var notAfter time.Time // occurrences at or before it are not in the series
	if r.StartDate == "" && !r.Anchor.IsZero() {
		// The series starts after the creation instant: nothing at or
		// before it fires or counts. Pin the minute and second that
		// rrule-go would otherwise take from DTSTART.
		notAfter = r.Anchor
		opt.Dtstart = wallOf(r.Anchor.In(loc)).Truncate(time.Second)
		if len(opt.Byminute) == 0 && opt.Freq < rrule.MINUTELY {
			opt.Byminute = []int{0}
		}
		if len(opt.Bysecond) == 0 {
			opt.Bysecond = []int{0}
		}
	}
	if r.Count > 0 {
		opt.Count = r.Count
	}
	if !notAfter.IsZero() && opt.Count > 0 && onDtstart(*opt) {
		// DTSTART is the creation instant's whole second, so not after
		// it: rrule-go would count that occurrence, which never fires.
		opt.Count++
	}
	if opt.Count == 0 {
		opt.Dtstart = skipPeriods(opt, wallOf(after.In(loc)).AddDate(0, 0, -2))
	}
	rr, err := rrule.NewRRule(*opt)
	if err != nil {
		return Occurrence{}, false
	}
	if after.Before(notAfter) {
		after = notAfter
	}
	return r.scanRRule(rr, after, loc)
}

// onDtstart reports whether the rule has an occurrence at its DTSTART.
func onDtstart(opt rrule.ROption) bool {
	opt.Count = 1
	rr, err := rrule.NewRRule(opt)
	if err != nil {
		return false
	}
	return rr.After(opt.Dtstart, true).Equal(opt.Dtstart)
}

// compiledRRule caches the checked options of an RRule source.
type compiledRRule struct {
	src, zone string
	opt       rrule.ROption
}

// rruleOptions returns a copy of the rule's options, compiled at Parse time
// unless RRule or Timezone changed since.
func (r *Rule) rruleOptions() (*rrule.ROption, error) {
	if c := r.compiled; c != nil && c.src == r.RRule && c.zone == r.Timezone {
		opt := c.opt
		return &opt, nil
	}
	return compileRRule(r)
}

// skipPeriods moves a floating DTSTART forward by whole periods to just
// before `to`, when that cannot change the series (fixed-length periods).
func skipPeriods(opt *rrule.ROption, to time.Time) time.Time {
	iv := max(opt.Interval, 1)
	var period time.Duration
	switch opt.Freq {
	case rrule.MINUTELY:
		period = time.Duration(iv) * time.Minute
	case rrule.HOURLY:
		period = time.Duration(iv) * time.Hour
	case rrule.DAILY:
		period = time.Duration(iv) * 24 * time.Hour
	case rrule.WEEKLY:
		period = time.Duration(iv) * 7 * 24 * time.Hour
	default:
		return opt.Dtstart
	}
	if !to.After(opt.Dtstart) {
		return opt.Dtstart
	}
	n := to.Sub(opt.Dtstart) / period
	return opt.Dtstart.Add(n * period)
}

func (r *Rule) scanRRule(rr *rrule.RRule, after time.Time, loc *time.Location) (Occurrence, bool) {
	end := maxDay
	if r.EndDate != "" {
		end, _ = parseDay(r.EndDate)
	}
	exc := mergeExceptions(r.Exceptions)
	next := rr.Iterator()
	for w, ok := next(); ok; w, ok = next() {
		y, m, d := w.Date()
		dd := dayOf(y, int(m), d)
		if dd > end {
			break
		}
		if e := exc[dd]; e != nil && e.cancel {
			continue
		}
		t := wallInstant(loc, y, int(m), d, w.Hour(), w.Minute(), w.Second())
		if !t.After(after) {
			continue
		}
		o := Occurrence{At: t.UTC(), Date: dd.String(), Local: t.In(loc).Format(time.RFC3339)}
		if e := exc[dd]; e != nil && e.record != nil {
			o.Exceptions, o.Record = []string{OverridePayload}, e.record
		}
		return o, true
	}
	return Occurrence{}, false
}

package recurrence

import (
	"encoding/json"
	"time"
)

// Type names a base rule pattern (RuleCore.type in the reference JSON).
type Type string

// The rule types of the reference service.
const (
	Once                   Type = "once"
	Daily                  Type = "daily"
	Weekly                 Type = "weekly"
	MonthlyOnDay           Type = "monthly_on_day"
	MonthlyNthWeekday      Type = "monthly_nth_weekday"
	MonthlyLastBusinessDay Type = "monthly_last_business_day"
	YearlyOnMonthDay       Type = "yearly_on_month_day"
	YearlyNthWeekday       Type = "yearly_nth_weekday"
	QuarterlyLastWeekday   Type = "quarterly_last_weekday"
)

// TimeSpec types.
const (
	WallTime     = "wall_time"     // hour:minute:second in an IANA zone, DST-aware
	FixedInstant = "fixed_instant" // hour:minute:second at a fixed UTC offset
)

// Exception types.
const (
	Cancel          = "cancel"           // no occurrence on the date (it still counts towards Count)
	Move            = "move"             // the occurrence happens at NewDatetime instead
	OverrideTime    = "override_time"    // the date is realized with Time instead of the rule's time
	OverridePayload = "override_payload" // the occurrence publishes Record
)

// Rule is a recurrence rule: the reference RecurrenceRule (Core plus
// StartDate, EndDate, Count, Revisions, Exceptions) or, when RRule is set, an
// RFC 5545 recurrence in Timezone.
type Rule struct {
	Core       Core        // the base pattern ("rule" in JSON); zero when RRule is set
	StartDate  string      // YYYY-MM-DD, first date of the series (inclusive)
	EndDate    string      // YYYY-MM-DD, last date of the series (inclusive)
	Count      int         // maximum number of occurrences, 0 = unlimited
	Revisions  []Revision  // replacements of Core from a date on
	Exceptions []Exception // per-date changes

	RRule    string // RFC 5545 RRULE value ("FREQ=WEEKLY;BYDAY=MO"), optionally with a DTSTART line
	Timezone string // IANA zone of an RRule rule

	// Anchor is the series start when StartDate is empty (callers set it to
	// the schedule's creation time). Intervals and Count are counted from
	// its date in the rule's zone. When both are missing the query instant
	// is used, which makes answers depend on when they are asked.
	Anchor time.Time

	compiled *compiledRRule // RRule options checked by Parse (read-only)
}

// Core is one base pattern (the reference's RuleCore). Which fields matter
// depends on Type; Interval 0 means 1.
type Core struct {
	Type       Type
	Datetime   time.Time // Once
	Interval   int
	DaysOfWeek []int // Weekly: 0 = Sunday … 6 = Saturday
	DayOfMonth int   // MonthlyOnDay, YearlyOnMonthDay: 1–31, clamped to the month
	Nth        int   // 1–5 or -1 (last)
	Weekday    int   // 0 = Sunday … 6 = Saturday
	Month      int   // 1–12
	Time       *TimeSpec
}

// TimeSpec is when on a date an occurrence fires: a wall time in an IANA
// zone (Type "wall_time") or a time at a fixed UTC offset ("fixed_instant").
type TimeSpec struct {
	Type             string
	Hour             int
	Minute           int
	Second           int
	Timezone         string // wall_time
	UTCOffsetMinutes int    // fixed_instant
}

// Revision replaces the base pattern from EffectiveFromDate on.
type Revision struct {
	ID                string
	EffectiveFromDate string
	Rule              Core
}

// Exception changes the occurrence of one series date (Date, YYYY-MM-DD in
// the rule's zone). Type is cancel, move (NewDatetime), override_time (Time)
// or override_payload (Record).
type Exception struct {
	Date        string
	Type        string
	NewDatetime time.Time
	Time        *TimeSpec
	Record      json.RawMessage
}

// interval returns the pattern's interval, 1 when unset.
func (c *Core) interval() int {
	if c.Interval < 1 {
		return 1
	}
	return c.Interval
}

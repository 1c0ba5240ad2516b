package english

// The reference's RecurrenceRule JSON (spec §8.1), as far as this package
// reads and writes it. Exceptions and revisions are neither written by Parse
// nor said by Format, so they are not modelled.

// Rule types of the reference (spec §8.1).
const (
	typeOnce                   = "once"
	typeDaily                  = "daily"
	typeWeekly                 = "weekly"
	typeMonthlyOnDay           = "monthly_on_day"
	typeMonthlyNthWeekday      = "monthly_nth_weekday"
	typeMonthlyLastBusinessDay = "monthly_last_business_day"
	typeYearlyOnMonthDay       = "yearly_on_month_day"
	typeYearlyNthWeekday       = "yearly_nth_weekday"
	typeQuarterlyLastWeekday   = "quarterly_last_weekday"
)

// Time spec types of the reference.
const (
	timeWall  = "wall_time"
	timeFixed = "fixed_instant"
)

// isoInstant is how a once rule's datetime is written: the reference's
// JavaScript toISOString form.
const isoInstant = "2006-01-02T15:04:05.000Z"

// recurrenceRule is the top level: a base rule and its end conditions.
type recurrenceRule struct {
	Rule      *ruleCore `json:"rule"`
	StartDate string    `json:"startDate,omitempty"`
	EndDate   string    `json:"endDate,omitempty"`
	Count     *int      `json:"count,omitempty"`
}

// ruleCore is one rule variant; which fields are set depends on Type.
type ruleCore struct {
	Type       string    `json:"type"`
	Interval   *int      `json:"interval,omitempty"`
	DaysOfWeek []int     `json:"daysOfWeek,omitempty"`
	Month      int       `json:"month,omitempty"`
	DayOfMonth int       `json:"dayOfMonth,omitempty"`
	Nth        int       `json:"nth,omitempty"`
	Weekday    *int      `json:"weekday,omitempty"`
	Datetime   string    `json:"datetime,omitempty"`
	Time       *timeSpec `json:"time,omitempty"`
}

// timeSpec is a wall time in an IANA zone or a time at a fixed UTC offset.
type timeSpec struct {
	Type             string `json:"type"`
	Hour             int    `json:"hour"`
	Minute           int    `json:"minute"`
	Second           *int   `json:"second,omitempty"`
	Timezone         string `json:"timezone,omitempty"`
	UTCOffsetMinutes *int   `json:"utcOffsetMinutes,omitempty"`
}

// interval is the rule's interval, 1 when absent as in the reference.
func (c *ruleCore) interval() int {
	if c.Interval == nil {
		return 1
	}
	return *c.Interval
}

func intPtr(n int) *int { return &n }

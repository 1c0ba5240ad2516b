package english

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Format writes a rule (the JSON) in English as the reference's formatter does.
//
// The sentence is the rule's phrase ("every Monday and Friday at 9am (UTC)")
// followed by ", starting <date>", ", until <date>" and ", for N
// occurrences" as the rule has them (spec §8.9). Exceptions and revisions
// are not said. A rule Format cannot say (unknown type, no time, a time out
// of range, a weekly rule without days) is an error.
func Format(ruleJSON []byte) (string, error) {
	var r recurrenceRule
	if err := json.Unmarshal(ruleJSON, &r); err != nil {
		return "", fmt.Errorf("read rule: %w", err)
	}
	if r.Rule == nil {
		return "", errors.New("read rule: no \"rule\"")
	}
	phrase, err := corePhrase(r.Rule)
	if err != nil {
		return "", fmt.Errorf("%s rule: %w", r.Rule.Type, err)
	}
	parts := []string{phrase}
	if r.StartDate != "" {
		parts = append(parts, "starting "+r.StartDate)
	}
	if r.EndDate != "" {
		parts = append(parts, "until "+r.EndDate)
	}
	if r.Count != nil {
		parts = append(parts, countPhrase(*r.Count))
	}
	return strings.Join(parts, ", "), nil
}

func countPhrase(n int) string {
	if n == 1 {
		return "for 1 occurrence"
	}
	return "for " + strconv.Itoa(n) + " occurrences"
}

// corePhrase says the rule without its end conditions.
func corePhrase(c *ruleCore) (string, error) {
	if c.Type == typeOnce {
		return oncePhrase(c.Datetime), nil
	}
	if c.interval() < 1 {
		return "", fmt.Errorf("interval %d is not at least 1", c.interval())
	}
	at, err := timePhrase(c.Time)
	if err != nil {
		return "", err
	}
	say, ok := phrasers[c.Type]
	if !ok {
		return "", fmt.Errorf("unknown rule type %q", c.Type)
	}
	return say(c, at)
}

// phrasers say each rule type, given its time phrase ("9am (UTC)").
var phrasers = map[string]func(c *ruleCore, at string) (string, error){
	typeDaily: func(c *ruleCore, at string) (string, error) {
		return every(c.interval(), "day", "days") + " at " + at, nil
	},
	typeWeekly: weeklyPhrase,
	typeMonthlyOnDay: func(c *ruleCore, at string) (string, error) {
		return every(c.interval(), "month", "months") + " on the " + ordinalSuffix(c.DayOfMonth) + " at " + at, nil
	},
	typeMonthlyNthWeekday: func(c *ruleCore, at string) (string, error) {
		nth, err := nthWeekday(c)
		return nth + " of " + every(c.interval(), "month", "months") + " at " + at, err
	},
	typeMonthlyLastBusinessDay: func(c *ruleCore, at string) (string, error) {
		return "last business day of " + every(c.interval(), "month", "months") + " at " + at, nil
	},
	typeQuarterlyLastWeekday: func(c *ruleCore, at string) (string, error) {
		if c.Weekday == nil {
			return "", errors.New("no weekday")
		}
		return "last " + weekdayName(*c.Weekday) + " of every quarter at " + at, nil
	},
	typeYearlyOnMonthDay: func(c *ruleCore, at string) (string, error) {
		return everyYear(c.interval()) + " on " + monthName(c.Month) + " " + ordinalSuffix(c.DayOfMonth) + " at " + at, nil
	},
	typeYearlyNthWeekday: func(c *ruleCore, at string) (string, error) {
		nth, err := nthWeekday(c)
		return nth + " of " + monthName(c.Month) + " " + everyYear(c.interval()) + " at " + at, err
	},
}

// every says "every <unit>", "every other <unit>" or "every N <units>".
func every(interval int, unit, units string) string {
	switch interval {
	case 1:
		return "every " + unit
	case 2:
		return "every other " + unit
	}
	return "every " + strconv.Itoa(interval) + " " + units
}

// everyYear says "every year" or "every N years": the reference has no
// "every other year".
func everyYear(interval int) string {
	if interval == 1 {
		return "every year"
	}
	return "every " + strconv.Itoa(interval) + " years"
}

func weeklyPhrase(c *ruleCore, at string) (string, error) {
	if len(c.DaysOfWeek) == 0 {
		return "", errors.New("no daysOfWeek")
	}
	days := slices.Clone(c.DaysOfWeek)
	slices.Sort(days)
	group := ""
	switch {
	case slices.Equal(days, []int{1, 2, 3, 4, 5}):
		group = "weekday"
	case slices.Equal(days, []int{0, 6}):
		group = "weekend"
	}
	n := c.interval()
	switch {
	case group != "" && n == 1:
		return "every " + group + " at " + at, nil
	case group != "":
		return "every " + strconv.Itoa(n) + " weeks on " + group + "s at " + at, nil
	case n == 1:
		return "every " + dayList(days) + " at " + at, nil
	}
	return every(n, "week", "weeks") + " on " + dayList(days) + " at " + at, nil
}

// dayList says "Monday", "Monday and Friday", "Monday, Wednesday and Friday".
func dayList(days []int) string {
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = weekdayName(d)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// nthWeekday says "1st Monday" or "last Friday".
func nthWeekday(c *ruleCore) (string, error) {
	if c.Weekday == nil {
		return "", errors.New("no weekday")
	}
	if c.Nth == -1 {
		return "last " + weekdayName(*c.Weekday), nil
	}
	if c.Nth < 1 {
		return "", fmt.Errorf("nth %d is not 1-5 or -1", c.Nth)
	}
	return ordinalSuffix(c.Nth) + " " + weekdayName(*c.Weekday), nil
}

// timePhrase says a time spec: "9am (UTC)", "noon (ET)", "9:05am (UTC+5:30)".
func timePhrase(t *timeSpec) (string, error) {
	if t == nil {
		return "", errors.New("no time")
	}
	if t.Hour < 0 || t.Hour > 23 || t.Minute < 0 || t.Minute > 59 {
		return "", fmt.Errorf("time %d:%02d is not a time of day", t.Hour, t.Minute)
	}
	switch {
	case t.Type == timeWall && t.Timezone == "":
		return "", errors.New("wall_time without timezone")
	case t.Type == timeFixed && t.UTCOffsetMinutes == nil:
		return "", errors.New("fixed_instant without utcOffsetMinutes")
	case t.Type != timeWall && t.Type != timeFixed:
		return "", fmt.Errorf("unknown time type %q", t.Type)
	}
	return clock{t.Hour, t.Minute}.String() + " (" + timeLabel(t) + ")", nil
}

// oncePhrase says a one-off instant as the reference does (en-US, in UTC):
// "once on March 15, 2024 at 2:30 PM UTC", or "once on Invalid Date".
func oncePhrase(datetime string) string {
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, datetime); err == nil {
			return "once on " + t.UTC().Format("January 2, 2006 at 3:04 PM") + " UTC"
		}
	}
	return "once on Invalid Date"
}

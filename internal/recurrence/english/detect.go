package english

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

var (
	oncePattern         = regexp.MustCompile(`^once\b`)
	quarterPattern      = regexp.MustCompile(`\bquarter(?:s|ly)?\b`)
	lastPattern         = regexp.MustCompile(`\blast\b`)
	lastBusinessPattern = regexp.MustCompile(`\blast business day\b|\blast weekday of (?:the |each |every )?months?\b`)
	lastDayPattern      = regexp.MustCompile(`\blast day\b`)
	yearPattern         = regexp.MustCompile(`\b(?:years?|yearly|annually|annual)\b`)
	monthPattern        = regexp.MustCompile(`\b(?:months?|monthly)\b`)
	weekPattern         = regexp.MustCompile(`\b(?:weeks?|weekly|weekdays?|weekends?|work ?days?)\b`)
	dayPattern          = regexp.MustCompile(`\b(?:days?|daily)\b`)
	everyPattern        = regexp.MustCompile(`\b(?:every|each)\b`)
	isoDatePattern      = regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2})\b`)
	longDatePattern     = regexp.MustCompile(`\b([a-z]+) (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b`)
)

// rule picks the rule type from what is left of the text, in the
// reference's order (spec §8.8 step 6), and fills in its fields.
func (p *parsed) rule() (*ruleCore, error) {
	t := p.text
	switch {
	case oncePattern.MatchString(t):
		return p.once()
	case quarterPattern.MatchString(t) && lastPattern.MatchString(t):
		return p.withTime(&ruleCore{Type: typeQuarterlyLastWeekday, Weekday: intPtr(firstOr(weekdays(t), 5))}), nil
	case lastBusinessPattern.MatchString(t):
		return p.withTime(&ruleCore{Type: typeMonthlyLastBusinessDay}), nil
	case yearPattern.MatchString(t):
		return p.yearly()
	case monthPattern.MatchString(t):
		return p.monthly()
	case weekPattern.MatchString(t):
		days := weekdays(t)
		if len(days) == 0 {
			days = []int{1}
		}
		return p.withTime(&ruleCore{Type: typeWeekly, DaysOfWeek: days}), nil
	case len(namedWeekdays(t)) > 0:
		return p.withTime(&ruleCore{Type: typeWeekly, DaysOfWeek: namedWeekdays(t)}), nil
	case dayPattern.MatchString(t), everyPattern.MatchString(t):
		return p.withTime(&ruleCore{Type: typeDaily}), nil
	}
	return nil, fmt.Errorf("did not understand %q: say how often, like \"every day\", \"every Monday\" or \"the 15th of every month\"", excerpt(t))
}

// withTime gives a rule its interval and time spec.
func (p *parsed) withTime(c *ruleCore) *ruleCore {
	c.Interval = intPtr(p.interval)
	c.Time = &timeSpec{Type: timeWall, Hour: p.clock.hour, Minute: p.clock.minute, Timezone: p.zone}
	if p.offset != nil {
		c.Time.Type, c.Time.Timezone, c.Time.UTCOffsetMinutes = timeFixed, "", p.offset
	}
	return c
}

// yearly reads a yearly rule: "<nth> <weekday> of <month>" or "<month> <day>".
func (p *parsed) yearly() (*ruleCore, error) {
	month, ok := firstMonth(p.text)
	if !ok {
		return nil, fmt.Errorf("yearly rule %q: say which month, like \"every year on March 15th\"", excerpt(p.text))
	}
	if nth, ok := ordinal(p.text); ok {
		if days := weekdays(p.text); len(days) > 0 {
			return p.withTime(&ruleCore{Type: typeYearlyNthWeekday, Month: month, Nth: nth, Weekday: &days[0]}), nil
		}
	}
	last := daysIn(month)
	day := last
	if !lastDayPattern.MatchString(p.text) {
		n, found, err := dayNumber(p.text)
		if err != nil {
			return nil, err
		}
		day = 1
		if found {
			day = n
		}
	}
	if day < 1 || day > last {
		return nil, fmt.Errorf("%s has no day %d", monthName(month), day)
	}
	return p.withTime(&ruleCore{Type: typeYearlyOnMonthDay, Month: month, DayOfMonth: day}), nil
}

// monthly reads a monthly rule: "<nth> <weekday>", "last day" or "<day>".
func (p *parsed) monthly() (*ruleCore, error) {
	if nth, ok := ordinal(p.text); ok {
		if days := weekdays(p.text); len(days) > 0 {
			return p.withTime(&ruleCore{Type: typeMonthlyNthWeekday, Nth: nth, Weekday: &days[0]}), nil
		}
	}
	if lastDayPattern.MatchString(p.text) {
		return p.withTime(&ruleCore{Type: typeMonthlyOnDay, DayOfMonth: 31}), nil
	}
	day, found, err := dayNumber(p.text)
	if err != nil {
		return nil, err
	}
	if !found {
		day = 1
	}
	if day < 1 || day > 31 {
		return nil, fmt.Errorf("day of month %d is not 1-31", day)
	}
	return p.withTime(&ruleCore{Type: typeMonthlyOnDay, DayOfMonth: day}), nil
}

// once reads "once on <date> [at <time>]": a single instant, with the date
// as "2026-05-01" or "May 1, 2026".
func (p *parsed) once() (*ruleCore, error) {
	if p.startDate != "" || p.endDate != "" || p.count != nil || p.interval != 1 {
		return nil, fmt.Errorf("a one-off rule takes no interval, start, end or count")
	}
	date, err := onceDate(p.text)
	if err != nil {
		return nil, err
	}
	loc, err := p.location()
	if err != nil {
		return nil, fmt.Errorf("once: %w", err)
	}
	at := instant(date, p.clock, loc)
	return &ruleCore{Type: typeOnce, Datetime: at.UTC().Format(isoInstant)}, nil
}

// location is the zone or fixed offset the text named.
func (p *parsed) location() (*time.Location, error) {
	if p.offset != nil {
		return time.FixedZone("", *p.offset*60), nil
	}
	return time.LoadLocation(p.zone)
}

// onceDate finds the date of a one-off rule.
func onceDate(text string) (time.Time, error) {
	if m := isoDatePattern.FindString(text); m != "" {
		d, err := time.Parse(time.DateOnly, m)
		if err != nil {
			return time.Time{}, fmt.Errorf("once: %s is not a date", m)
		}
		return d, nil
	}
	if m := longDatePattern.FindStringSubmatch(text); m != nil {
		if _, ok := monthWords[m[1]]; ok {
			d, err := time.Parse("January 2 2006", fmt.Sprintf("%s %s %s", monthName(monthWords[m[1]]), m[2], m[3]))
			if err != nil {
				return time.Time{}, fmt.Errorf("once: %q is not a date", m[0])
			}
			return d, nil
		}
	}
	return time.Time{}, fmt.Errorf("once: say the date, like \"once on 2026-05-01 at 9am\" (read %q)", excerpt(text))
}

// daysIn is the most days month m has (29 for February).
func daysIn(m int) int {
	return time.Date(2024, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func firstOr(days []int, def int) int {
	if len(days) == 0 {
		return def
	}
	return days[0]
}

// encode writes the rule with its end conditions.
func (p *parsed) encode(core *ruleCore) (json.RawMessage, error) {
	out, err := json.Marshal(recurrenceRule{Rule: core, StartDate: p.startDate, EndDate: p.endDate, Count: p.count})
	if err != nil {
		return nil, fmt.Errorf("encode rule: %w", err)
	}
	return out, nil
}

// excerpt shortens text quoted in an error to its first 60 characters.
func excerpt(text string) string {
	const most = 60
	if r := []rune(text); len(r) > most {
		return string(r[:most]) + "…"
	}
	return text
}

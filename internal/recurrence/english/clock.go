package english

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// clock is a time of day.
type clock struct{ hour, minute int }

// defaultClock is the time a rule gets when the text names none, as in the
// reference.
var defaultClock = clock{9, 0}

var (
	noonPattern     = regexp.MustCompile(`\b(?:at )?noon\b`)
	midnightPattern = regexp.MustCompile(`\b(?:at )?midnight\b`)
	// atPattern is "at H[:MM][ ]am|pm" as the reference reads it, with
	// digits unbounded so that a bad time is an error rather than a
	// partial match.
	atPattern = regexp.MustCompile(`\bat (\d+)(?::(\d+))? ?(am|pm)?\b`)
	// barePattern is a time without "at", which must say am or pm
	// ("every monday 5pm"); the reference did not read it.
	barePattern = regexp.MustCompile(`\b(\d+)(?::(\d+))? ?(am|pm)\b`)
)

// cutClock finds the time of day in a normalised text and returns it with
// the text without it; without one it returns defaultClock.
func cutClock(text string) (clock, string, error) {
	if loc := noonPattern.FindStringIndex(text); loc != nil {
		return clock{12, 0}, cutAt(text, loc), nil
	}
	if loc := midnightPattern.FindStringIndex(text); loc != nil {
		return clock{0, 0}, cutAt(text, loc), nil
	}
	for _, re := range []*regexp.Regexp{atPattern, barePattern} {
		m := re.FindStringSubmatchIndex(text)
		if m == nil {
			continue
		}
		c, err := readClock(text[m[0]:m[1]], group(text, m, 1), group(text, m, 2), group(text, m, 3))
		return c, cutAt(text, m[:2]), err
	}
	return defaultClock, text, nil
}

// readClock checks and converts the parts of a time: hour, minute (may be
// empty) and am/pm (may be empty, then the hour is on a 24-hour clock).
func readClock(phrase, hour, minute, half string) (clock, error) {
	h, err := strconv.Atoi(hour)
	if err != nil || len(hour) > 2 {
		return clock{}, fmt.Errorf("time %q: hour %s is not an hour", phrase, hour)
	}
	switch {
	case half == "" && h > 23:
		return clock{}, fmt.Errorf("time %q: hour %d is not 0-23", phrase, h)
	case half != "" && (h < 1 || h > 12):
		return clock{}, fmt.Errorf("time %q: hour %d is not 1-12", phrase, h)
	}
	m := 0
	if minute != "" {
		if len(minute) != 2 {
			return clock{}, fmt.Errorf("time %q: minutes must be two digits", phrase)
		}
		m, _ = strconv.Atoi(minute)
	}
	if m > 59 {
		return clock{}, fmt.Errorf("time %q: minute %d is not 0-59", phrase, m)
	}
	if half == "" {
		return clock{h, m}, nil
	}
	h %= 12
	if half == "pm" {
		h += 12
	}
	return clock{h, m}, nil
}

// String writes the time as the reference does: "noon", "midnight", else
// 12-hour with minutes only when there are some ("9am", "9:05pm").
func (c clock) String() string {
	switch c {
	case clock{12, 0}:
		return "noon"
	case clock{0, 0}:
		return "midnight"
	}
	half := "am"
	if c.hour >= 12 {
		half = "pm"
	}
	h := c.hour % 12
	if h == 0 {
		h = 12
	}
	if c.minute > 0 {
		return fmt.Sprintf("%d:%02d%s", h, c.minute, half)
	}
	return fmt.Sprintf("%d%s", h, half)
}

// instant is the instant of a local date and time in loc. A time in a
// spring-forward gap is read with the offset in force before the gap (New
// York 2024-03-10 02:30 is 07:30Z), as the reference does; an ambiguous
// fall-back time is the earlier instant.
func instant(date time.Time, c clock, loc *time.Location) time.Time {
	y, mo, d := date.Date()
	t := time.Date(y, mo, d, c.hour, c.minute, 0, 0, loc)
	if t.Day() == d && t.Hour() == c.hour && t.Minute() == c.minute {
		return t
	}
	wall := time.Date(y, mo, d, c.hour, c.minute, 0, 0, time.UTC)
	_, before := wall.Add(-24 * time.Hour).In(loc).Zone()
	return wall.Add(-time.Duration(before) * time.Second)
}

// group is submatch i of a FindStringSubmatchIndex result, "" if unset.
func group(text string, m []int, i int) string {
	if m[2*i] < 0 {
		return ""
	}
	return text[m[2*i]:m[2*i+1]]
}

// cutAt replaces text[loc[0]:loc[1]] with a space.
func cutAt(text string, loc []int) string {
	return text[:loc[0]] + " " + text[loc[1]:]
}

// cutFirst removes re's first match from text, returning its submatches
// (nil if none) and the text without it.
func cutFirst(re *regexp.Regexp, text string) ([]string, string) {
	loc := re.FindStringSubmatchIndex(text)
	if loc == nil {
		return nil, text
	}
	m := make([]string, len(loc)/2)
	for i := range m {
		m[i] = group(text, loc, i)
	}
	return m, cutAt(text, loc[:2])
}

// collapse trims and collapses runs of white space to one space.
func collapse(text string) string {
	return strings.Join(strings.Fields(text), " ")
}

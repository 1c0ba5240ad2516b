package english

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
)

// weekdayNames are the weekday names Format writes, 0 = Sunday as in the
// reference.
var weekdayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// monthNames are the month names Format writes, index 0 = January.
var monthNames = []string{"January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December"}

// weekdayWords maps every word Parse reads as a weekday to its number. The
// plurals are alf's addition: the reference did not read "tuesdays".
var weekdayWords = map[string]int{
	"sunday": 0, "sundays": 0, "sun": 0,
	"monday": 1, "mondays": 1, "mon": 1,
	"tuesday": 2, "tuesdays": 2, "tue": 2, "tues": 2,
	"wednesday": 3, "wednesdays": 3, "wed": 3,
	"thursday": 4, "thursdays": 4, "thu": 4, "thur": 4, "thurs": 4,
	"friday": 5, "fridays": 5, "fri": 5,
	"saturday": 6, "saturdays": 6, "sat": 6,
}

// monthWords maps every word Parse reads as a month to its number.
var monthWords = map[string]int{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
	"april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
	"august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
	"october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}

// ordinals are the words that pick the nth weekday of a month, in the order
// the reference tries them ("fifth"/"5th" are alf's addition, so that
// Format's "5th Monday of every month" reads back).
var ordinals = []struct {
	re  *regexp.Regexp
	nth int
}{
	{regexp.MustCompile(`\blast\b`), -1},
	{regexp.MustCompile(`\b(?:first|1st)\b`), 1},
	{regexp.MustCompile(`\b(?:second|2nd)\b`), 2},
	{regexp.MustCompile(`\b(?:third|3rd)\b`), 3},
	{regexp.MustCompile(`\b(?:fourth|4th)\b`), 4},
	{regexp.MustCompile(`\b(?:fifth|5th)\b`), 5},
}

// dayWords are ordinal words read as a day of the month when no digits say it.
var dayWords = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}

var (
	wordPattern      = regexp.MustCompile(`[a-z]+`)
	workdaysPattern  = regexp.MustCompile(`\b(?:weekdays?|work ?days?)\b`)
	weekendsPattern  = regexp.MustCompile(`\bweekends?\b`)
	dayNumberPattern = regexp.MustCompile(`\b(\d+)(?:st|nd|rd|th)?\b`)
)

// weekdays returns the days a text names, sorted and without repeats:
// Monday to Friday for "weekdays", Saturday and Sunday for "weekends", else
// every weekday word.
func weekdays(text string) []int {
	if workdaysPattern.MatchString(text) {
		return []int{1, 2, 3, 4, 5}
	}
	if weekendsPattern.MatchString(text) {
		return []int{0, 6}
	}
	return namedWeekdays(text)
}

// namedWeekdays returns the weekdays a text names by name, sorted, without
// repeats.
func namedWeekdays(text string) []int {
	var days []int
	for _, w := range wordPattern.FindAllString(text, -1) {
		if d, ok := weekdayWords[w]; ok && !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	return days
}

// firstMonth returns the first month a text names.
func firstMonth(text string) (int, bool) {
	for _, w := range wordPattern.FindAllString(text, -1) {
		if m, ok := monthWords[w]; ok {
			return m, true
		}
	}
	return 0, false
}

// ordinal returns the nth a text names ("last" is -1).
func ordinal(text string) (int, bool) {
	for _, o := range ordinals {
		if o.re.MatchString(text) {
			return o.nth, true
		}
	}
	return 0, false
}

// dayNumber returns the first day of the month a text names: the first
// number ("15", "15th"), else an ordinal word ("second"). It reports an
// error for a number that cannot be one.
func dayNumber(text string) (int, bool, error) {
	if m := dayNumberPattern.FindStringSubmatch(text); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || len(m[1]) > 2 {
			return 0, false, fmt.Errorf("day %q is not a day of the month", m[0])
		}
		return n, true, nil
	}
	for _, w := range wordPattern.FindAllString(text, -1) {
		if n, ok := dayWords[w]; ok {
			return n, true, nil
		}
	}
	return 0, false, nil
}

// ordinalSuffix writes n as the reference does: 1st 2nd 3rd 4th 11th 12th
// 13th 21st 22nd 23rd ...
func ordinalSuffix(n int) string {
	abs := n
	if abs < 0 {
		abs = -abs
	}
	suffix := "th"
	switch {
	case abs%100 >= 11 && abs%100 <= 13:
	case abs%10 == 1:
		suffix = "st"
	case abs%10 == 2:
		suffix = "nd"
	case abs%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// weekdayName is the name of day d, "day N" for a number that is none.
func weekdayName(d int) string {
	if d < 0 || d >= len(weekdayNames) {
		return "day " + strconv.Itoa(d)
	}
	return weekdayNames[d]
}

// monthName is the name of month m (1 = January), "month N" for a number
// that is none.
func monthName(m int) string {
	if m < 1 || m > len(monthNames) {
		return "month " + strconv.Itoa(m)
	}
	return monthNames[m-1]
}

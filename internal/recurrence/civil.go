package recurrence

import (
	"fmt"
	"time"
)

// day is a calendar date as a count of days since 1970-01-01 (proleptic
// Gregorian), so that date arithmetic is integer arithmetic.
type day int

// maxYear is the last year the engine generates dates for.
const maxYear = 9999

// dayOf returns the day of y-m-d (m 1–12, d 1–31); Howard Hinnant's
// days_from_civil.
func dayOf(y, m, d int) day {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return day(era*146097 + doe - 719468)
}

// ymd returns the year, month (1–12) and day of month of d.
func (d day) ymd() (int, int, int) {
	z := int(d) + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, dd
}

// weekday returns 0 (Sunday) … 6 (Saturday).
func (d day) weekday() int {
	return floorMod(int(d)+4, 7) // 1970-01-01 was a Thursday
}

func (d day) year() int {
	y, _, _ := d.ymd()
	return y
}

func (d day) String() string {
	y, m, dd := d.ymd()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// parseDay parses YYYY-MM-DD.
func parseDay(s string) (day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	y, m, d := t.Date()
	return dayOf(y, int(m), d), nil
}

// dayIn returns the calendar date of t in loc.
func dayIn(t time.Time, loc *time.Location) day {
	y, m, d := t.In(loc).Date()
	return dayOf(y, int(m), d)
}

// monthIndex numbers months: year*12 + (month-1).
func monthIndex(y, m int) int { return y*12 + m - 1 }

func monthOf(mi int) (int, int) { return floorDiv(mi, 12), floorMod(mi, 12) + 1 }

func monthLen(y, m int) int {
	return int(dayOf(y+(m/12), m%12+1, 1) - dayOf(y, m, 1))
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

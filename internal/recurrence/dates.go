package recurrence

// firstOnOrAfter returns the first candidate date of c that is on or after
// both d and the anchor a, with periods (days, weeks, months, quarters,
// years) counted from a. ok is false past year maxYear.
func (c *Core) firstOnOrAfter(a, d day) (day, bool) {
	d = max(d, a)
	switch c.Type {
	case Daily:
		iv := c.interval()
		return a + day(ceilDiv(int(d-a), iv)*iv), true
	case Weekly:
		return c.weekly(a, d)
	case MonthlyOnDay, MonthlyNthWeekday, MonthlyLastBusinessDay:
		y, m, _ := a.ymd()
		return c.periodic(a, d, monthIndex(y, m), c.interval())
	case QuarterlyLastWeekday:
		y, m, _ := a.ymd()
		return c.periodic(a, d, monthIndex(y, m)+floorMod(3-m, 3), 3*c.interval())
	case YearlyOnMonthDay, YearlyNthWeekday:
		return c.periodic(a, d, monthIndex(a.year(), c.Month), 12*c.interval())
	}
	return 0, false
}

// weekly: weeks start on Sunday; the anchor's week is period 0.
func (c *Core) weekly(a, d day) (day, bool) {
	if len(c.DaysOfWeek) == 0 {
		return 0, false
	}
	iv := c.interval()
	w0 := a - day(a.weekday())
	wd := d - day(d.weekday())
	if k := int(wd-w0) / 7; k%iv != 0 {
		wd = w0 + day(ceilDiv(k, iv)*iv*7)
		d = wd
	}
	for wd.year() <= maxYear {
		best, found := day(0), false
		for _, dow := range c.DaysOfWeek {
			if cand := wd + day(dow); cand >= d && (!found || cand < best) && dow >= 0 && dow <= 6 {
				best, found = cand, true
			}
		}
		if found {
			return best, true
		}
		wd += day(7 * iv)
		d = wd
	}
	return 0, false
}

// periodic walks months base, base+step, … (month indexes) from the one
// holding d and returns the first candidate on or after d.
func (c *Core) periodic(a, d day, base, step int) (day, bool) {
	y, m, _ := d.ymd()
	k := max(0, ceilDiv(monthIndex(y, m)-base, step))
	for ; ; k++ {
		yy, mm := monthOf(base + k*step)
		if yy > maxYear {
			return 0, false
		}
		cand, ok := c.inMonth(yy, mm)
		if ok && cand >= d && cand >= a {
			return cand, true
		}
	}
}

// inMonth returns the pattern's date in month yy-mm, if it has one.
func (c *Core) inMonth(yy, mm int) (day, bool) {
	switch c.Type {
	case MonthlyOnDay, YearlyOnMonthDay:
		return dayOf(yy, mm, min(c.DayOfMonth, monthLen(yy, mm))), c.DayOfMonth >= 1
	case MonthlyNthWeekday, YearlyNthWeekday:
		return nthWeekday(yy, mm, c.Nth, c.Weekday)
	case MonthlyLastBusinessDay:
		last := dayOf(yy, mm, monthLen(yy, mm))
		switch last.weekday() {
		case 6:
			return last - 1, true
		case 0:
			return last - 2, true
		}
		return last, true
	case QuarterlyLastWeekday:
		return nthWeekday(yy, mm, -1, c.Weekday)
	}
	return 0, false
}

// nthWeekday returns the nth (1–5, or -1 for last) weekday wd of yy-mm.
func nthWeekday(yy, mm, nth, wd int) (day, bool) {
	if nth == -1 {
		last := dayOf(yy, mm, monthLen(yy, mm))
		return last - day(floorMod(last.weekday()-wd, 7)), true
	}
	if nth < 1 || nth > 5 {
		return 0, false
	}
	first := dayOf(yy, mm, 1)
	cand := first + day(floorMod(wd-first.weekday(), 7)+7*(nth-1))
	return cand, int(cand-first) < monthLen(yy, mm)
}

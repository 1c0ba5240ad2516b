package recurrence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// FieldError is a malformed rule: Field is the JSON path of the offending
// value ("rule.time.hour", "exceptions[2].date"), Message what is wrong.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "recurrence rule: " + e.Message
	}
	return "recurrence rule: " + e.Field + ": " + e.Message
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// maxInterval bounds intervals so that period arithmetic stays far from
// overflow; no schedule needs more than every 1000 periods.
const maxInterval = 1000

// maxCount bounds Count (counting walks the series from its start).
const maxCount = 100000

// Wire forms: pointers tell a missing field from a zero one.
type ruleJSON struct {
	Rule       *coreJSON       `json:"rule,omitempty"`
	StartDate  string          `json:"startDate,omitempty"`
	EndDate    string          `json:"endDate,omitempty"`
	Count      *int            `json:"count,omitempty"`
	Revisions  []revisionJSON  `json:"revisions,omitempty"`
	Exceptions []exceptionJSON `json:"exceptions,omitempty"`
	RRule      string          `json:"rrule,omitempty"`
	Timezone   string          `json:"timezone,omitempty"`
}

type coreJSON struct {
	Type       string    `json:"type"`
	Datetime   string    `json:"datetime,omitempty"`
	Interval   *int      `json:"interval,omitempty"`
	DaysOfWeek []int     `json:"daysOfWeek,omitempty"`
	DayOfMonth *int      `json:"dayOfMonth,omitempty"`
	Nth        *int      `json:"nth,omitempty"`
	Weekday    *int      `json:"weekday,omitempty"`
	Month      *int      `json:"month,omitempty"`
	Time       *timeJSON `json:"time,omitempty"`
}

type timeJSON struct {
	Type             string `json:"type"`
	Hour             *int   `json:"hour"`
	Minute           *int   `json:"minute"`
	Second           *int   `json:"second,omitempty"`
	Timezone         string `json:"timezone,omitempty"`
	UTCOffsetMinutes *int   `json:"utcOffsetMinutes,omitempty"`
}

type revisionJSON struct {
	ID                string    `json:"id,omitempty"`
	EffectiveFromDate string    `json:"effectiveFromDate"`
	Rule              *coreJSON `json:"rule"`
}

type exceptionJSON struct {
	Date        string          `json:"date"`
	Type        string          `json:"type"`
	NewDatetime string          `json:"newDatetime,omitempty"`
	Time        *timeJSON       `json:"time,omitempty"`
	Record      json.RawMessage `json:"record,omitempty"`
}

// Parse decodes and validates a rule. Any malformed rule is a *FieldError.
func Parse(ruleJSON []byte) (*Rule, error) {
	var r Rule
	if err := r.UnmarshalJSON(ruleJSON); err != nil {
		return nil, err
	}
	return &r, nil
}

// UnmarshalJSON decodes and validates a rule (see Parse).
func (r *Rule) UnmarshalJSON(b []byte) error {
	var w ruleJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return decodeErr(err)
	}
	out, err := w.rule()
	if err != nil {
		return err
	}
	*r = *out
	return nil
}

func decodeErr(err error) *FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fieldErr(te.Field, "must be %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	return fieldErr("", "invalid JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "ptr":
		return "an object"
	}
	return k
}

func (w *ruleJSON) rule() (*Rule, error) {
	r := &Rule{StartDate: w.StartDate, EndDate: w.EndDate, RRule: w.RRule, Timezone: w.Timezone}
	if err := w.checkDates(); err != nil {
		return nil, err
	}
	if w.Count != nil {
		if *w.Count < 1 || *w.Count > maxCount {
			return nil, fieldErr("count", "must be between 1 and %d, got %d", maxCount, *w.Count)
		}
		r.Count = *w.Count
	}
	if err := w.core(r); err != nil {
		return nil, err
	}
	for i, rv := range w.Revisions {
		rev, err := rv.revision(fmt.Sprintf("revisions[%d]", i))
		if err != nil {
			return nil, err
		}
		r.Revisions = append(r.Revisions, rev)
	}
	if len(r.Revisions) > 0 && r.RRule != "" {
		return nil, fieldErr("revisions", "not supported with rrule")
	}
	for i, ex := range w.Exceptions {
		e, err := ex.exception(fmt.Sprintf("exceptions[%d]", i), r.RRule != "")
		if err != nil {
			return nil, err
		}
		r.Exceptions = append(r.Exceptions, e)
	}
	return r, nil
}

func (w *ruleJSON) checkDates() error {
	if w.StartDate != "" {
		if _, err := parseDay(w.StartDate); err != nil {
			return fieldErr("startDate", "must be a date YYYY-MM-DD, got %q", w.StartDate)
		}
	}
	if w.EndDate != "" {
		if _, err := parseDay(w.EndDate); err != nil {
			return fieldErr("endDate", "must be a date YYYY-MM-DD, got %q", w.EndDate)
		}
	}
	if w.StartDate != "" && w.EndDate != "" && w.EndDate < w.StartDate {
		return fieldErr("endDate", "is before startDate %s", w.StartDate)
	}
	return nil
}

func (w *ruleJSON) core(r *Rule) error {
	if w.RRule == "" {
		if w.Timezone != "" {
			return fieldErr("timezone", "only allowed with rrule")
		}
		if w.Rule == nil {
			return fieldErr("rule", "required")
		}
		c, err := w.Rule.core("rule")
		if err != nil {
			return err
		}
		r.Core = c
		return nil
	}
	if w.Rule != nil {
		return fieldErr("rule", "not allowed with rrule")
	}
	if w.Timezone == "" {
		return fieldErr("timezone", "required with rrule")
	}
	if _, err := loadZone(w.Timezone); err != nil {
		return fieldErr("timezone", "unknown time zone %q", w.Timezone)
	}
	opt, err := compileRRule(r)
	if err != nil {
		return err
	}
	r.compiled = &compiledRRule{src: r.RRule, zone: r.Timezone, opt: *opt}
	return nil
}

func (rv *revisionJSON) revision(path string) (Revision, error) {
	if _, err := parseDay(rv.EffectiveFromDate); err != nil {
		return Revision{}, fieldErr(path+".effectiveFromDate", "must be a date YYYY-MM-DD, got %q", rv.EffectiveFromDate)
	}
	if rv.Rule == nil {
		return Revision{}, fieldErr(path+".rule", "required")
	}
	c, err := rv.Rule.core(path + ".rule")
	if err != nil {
		return Revision{}, err
	}
	return Revision{ID: rv.ID, EffectiveFromDate: rv.EffectiveFromDate, Rule: c}, nil
}

func (cj *coreJSON) core(path string) (Core, error) {
	c := Core{Type: Type(cj.Type)}
	if c.Type == Once {
		t, err := parseInstant(cj.Datetime)
		if err != nil {
			return c, fieldErr(path+".datetime", "must be an ISO-8601 instant, got %q", cj.Datetime)
		}
		c.Datetime = t
		return c, nil
	}
	if err := cj.checkType(path); err != nil {
		return c, err
	}
	if cj.Interval != nil {
		if *cj.Interval < 1 || *cj.Interval > maxInterval {
			return c, fieldErr(path+".interval", "must be between 1 and %d, got %d", maxInterval, *cj.Interval)
		}
		c.Interval = *cj.Interval
	}
	if cj.Time == nil {
		return c, fieldErr(path+".time", "required")
	}
	ts, err := cj.Time.spec(path + ".time")
	if err != nil {
		return c, err
	}
	c.Time = ts
	return c, cj.fields(path, &c)
}

func (cj *coreJSON) checkType(path string) error {
	switch Type(cj.Type) {
	case Daily, Weekly, MonthlyOnDay, MonthlyNthWeekday, MonthlyLastBusinessDay,
		YearlyOnMonthDay, YearlyNthWeekday, QuarterlyLastWeekday:
		return nil
	case "":
		return fieldErr(path+".type", "required")
	}
	return fieldErr(path+".type", "unknown rule type %q", cj.Type)
}

// fields checks and copies the type-specific fields.
func (cj *coreJSON) fields(path string, c *Core) error {
	var err error
	switch c.Type {
	case Weekly:
		c.DaysOfWeek, err = daysOfWeek(path+".daysOfWeek", cj.DaysOfWeek)
	case MonthlyOnDay:
		c.DayOfMonth, err = intIn(path+".dayOfMonth", cj.DayOfMonth, 1, 31)
	case MonthlyNthWeekday:
		err = cj.nthWeekday(path, c)
	case YearlyOnMonthDay:
		if c.Month, err = intIn(path+".month", cj.Month, 1, 12); err == nil {
			c.DayOfMonth, err = intIn(path+".dayOfMonth", cj.DayOfMonth, 1, 31)
		}
	case YearlyNthWeekday:
		if c.Month, err = intIn(path+".month", cj.Month, 1, 12); err == nil {
			err = cj.nthWeekday(path, c)
		}
	case QuarterlyLastWeekday:
		c.Weekday, err = intIn(path+".weekday", cj.Weekday, 0, 6)
	}
	return err
}

func (cj *coreJSON) nthWeekday(path string, c *Core) error {
	var err error
	if c.Weekday, err = intIn(path+".weekday", cj.Weekday, 0, 6); err != nil {
		return err
	}
	if cj.Nth == nil {
		return fieldErr(path+".nth", "required")
	}
	if n := *cj.Nth; n != -1 && (n < 1 || n > 5) {
		return fieldErr(path+".nth", "must be 1 to 5 or -1 (last), got %d", n)
	}
	c.Nth = *cj.Nth
	return nil
}

func intIn(field string, v *int, lo, hi int) (int, error) {
	if v == nil {
		return 0, fieldErr(field, "required")
	}
	if *v < lo || *v > hi {
		return 0, fieldErr(field, "must be between %d and %d, got %d", lo, hi, *v)
	}
	return *v, nil
}

func daysOfWeek(field string, days []int) ([]int, error) {
	if len(days) == 0 {
		return nil, fieldErr(field, "must name at least one weekday")
	}
	var seen [7]bool
	for i, d := range days {
		if d < 0 || d > 6 {
			return nil, fieldErr(field+"["+strconv.Itoa(i)+"]", "must be between 0 (Sunday) and 6 (Saturday), got %d", d)
		}
		seen[d] = true
	}
	var out []int
	for d, ok := range seen {
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func (tj *timeJSON) spec(path string) (*TimeSpec, error) {
	ts := &TimeSpec{Type: tj.Type}
	var err error
	if ts.Hour, err = intIn(path+".hour", tj.Hour, 0, 23); err != nil {
		return nil, err
	}
	if ts.Minute, err = intIn(path+".minute", tj.Minute, 0, 59); err != nil {
		return nil, err
	}
	if tj.Second != nil {
		if ts.Second, err = intIn(path+".second", tj.Second, 0, 59); err != nil {
			return nil, err
		}
	}
	switch tj.Type {
	case WallTime:
		if tj.Timezone == "" {
			return nil, fieldErr(path+".timezone", "required")
		}
		if _, err := loadZone(tj.Timezone); err != nil {
			return nil, fieldErr(path+".timezone", "unknown time zone %q", tj.Timezone)
		}
		ts.Timezone = tj.Timezone
	case FixedInstant:
		if ts.UTCOffsetMinutes, err = intIn(path+".utcOffsetMinutes", tj.UTCOffsetMinutes, -18*60, 18*60); err != nil {
			return nil, err
		}
	case "":
		return nil, fieldErr(path+".type", "required")
	default:
		return nil, fieldErr(path+".type", "must be wall_time or fixed_instant, got %q", tj.Type)
	}
	return ts, nil
}

func (ej *exceptionJSON) exception(path string, rrule bool) (Exception, error) {
	e := Exception{Date: ej.Date, Type: ej.Type}
	if _, err := parseDay(ej.Date); err != nil {
		return e, fieldErr(path+".date", "must be a date YYYY-MM-DD, got %q", ej.Date)
	}
	switch ej.Type {
	case Cancel:
	case Move:
		t, err := parseInstant(ej.NewDatetime)
		if err != nil {
			return e, fieldErr(path+".newDatetime", "must be an ISO-8601 instant, got %q", ej.NewDatetime)
		}
		e.NewDatetime = t
	case OverrideTime:
		if ej.Time == nil {
			return e, fieldErr(path+".time", "required")
		}
		ts, err := ej.Time.spec(path + ".time")
		if err != nil {
			return e, err
		}
		e.Time = ts
	case OverridePayload:
		if len(ej.Record) == 0 || !bytes.HasPrefix(bytes.TrimSpace(ej.Record), []byte("{")) {
			return e, fieldErr(path+".record", "must be an object")
		}
		e.Record = ej.Record
	case "":
		return e, fieldErr(path+".type", "required")
	default:
		return e, fieldErr(path+".type", "unknown exception type %q", ej.Type)
	}
	if rrule && (e.Type == Move || e.Type == OverrideTime) {
		return e, fieldErr(path+".type", "%s is not supported with rrule (a date may hold several occurrences)", e.Type)
	}
	return e, nil
}

// parseInstant accepts an RFC 3339 instant (with Z or an offset).
func parseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() < 1 || t.Year() > maxYear {
		return time.Time{}, fmt.Errorf("year %d out of range", t.Year())
	}
	return t.UTC(), nil
}

// MarshalJSON writes the reference JSON shape.
func (r Rule) MarshalJSON() ([]byte, error) {
	w := ruleJSON{StartDate: r.StartDate, EndDate: r.EndDate, RRule: r.RRule, Timezone: r.Timezone}
	if r.RRule == "" {
		w.Rule = r.Core.wire()
	}
	if r.Count > 0 {
		w.Count = ptr(r.Count)
	}
	for _, rv := range r.Revisions {
		w.Revisions = append(w.Revisions, revisionJSON{ID: rv.ID, EffectiveFromDate: rv.EffectiveFromDate, Rule: rv.Rule.wire()})
	}
	for _, e := range r.Exceptions {
		w.Exceptions = append(w.Exceptions, e.wire())
	}
	return json.Marshal(w)
}

func ptr(v int) *int { return &v }

func (c *Core) wire() *coreJSON {
	w := &coreJSON{Type: string(c.Type)}
	if c.Type == Once {
		w.Datetime = c.Datetime.UTC().Format("2006-01-02T15:04:05.000Z")
		return w
	}
	w.Interval = ptr(c.interval())
	w.Time = c.Time.wire()
	switch c.Type {
	case Weekly:
		w.DaysOfWeek = c.DaysOfWeek
	case MonthlyOnDay:
		w.DayOfMonth = ptr(c.DayOfMonth)
	case MonthlyNthWeekday:
		w.Nth, w.Weekday = ptr(c.Nth), ptr(c.Weekday)
	case YearlyOnMonthDay:
		w.Month, w.DayOfMonth = ptr(c.Month), ptr(c.DayOfMonth)
	case YearlyNthWeekday:
		w.Month, w.Nth, w.Weekday = ptr(c.Month), ptr(c.Nth), ptr(c.Weekday)
	case QuarterlyLastWeekday:
		w.Weekday = ptr(c.Weekday)
	}
	return w
}

func (ts *TimeSpec) wire() *timeJSON {
	if ts == nil {
		return nil
	}
	w := &timeJSON{Type: ts.Type, Hour: ptr(ts.Hour), Minute: ptr(ts.Minute)}
	if ts.Second != 0 {
		w.Second = ptr(ts.Second)
	}
	if ts.Type == FixedInstant {
		w.UTCOffsetMinutes = ptr(ts.UTCOffsetMinutes)
	} else {
		w.Timezone = ts.Timezone
	}
	return w
}

func (e *Exception) wire() exceptionJSON {
	w := exceptionJSON{Date: e.Date, Type: e.Type, Time: e.Time.wire(), Record: e.Record}
	if e.Type == Move {
		w.NewDatetime = e.NewDatetime.UTC().Format(time.RFC3339Nano)
	}
	return w
}

// Validate checks a rule built in code (rather than parsed) with the same
// rules as Parse; it returns a *FieldError.
func (r *Rule) Validate() error {
	b, err := json.Marshal(r)
	if err != nil {
		return fieldErr("", "cannot encode: %v", err)
	}
	_, err = Parse(b)
	return err
}

package recurrence

import (
	"encoding/json"
	"slices"
	"time"
)

// Occurrence is one firing of a rule.
type Occurrence struct {
	At         time.Time       // the instant, UTC
	Date       string          // the series date it belongs to (YYYY-MM-DD); exceptions are keyed by it
	Local      string          // At in the rule's zone, RFC 3339 with offset
	Exceptions []string        // the exception types applied: move, override_time, override_payload
	Record     json.RawMessage // the override_payload record, nil when none
}

// Next returns the first occurrence strictly after `after`, false when the
// series has ended (or the rule is invalid).
func (r *Rule) Next(after time.Time) (time.Time, bool) {
	o, ok := r.NextOccurrence(after)
	return o.At, ok
}

// Occurrences returns up to n occurrences strictly after `after`, in order.
func (r *Rule) Occurrences(after time.Time, n int) []Occurrence {
	var out []Occurrence
	for len(out) < n {
		o, ok := r.NextOccurrence(after)
		if !ok {
			break
		}
		out = append(out, o)
		after = o.At
	}
	return out
}

// OccurrenceAt returns the occurrence that fires exactly at `at`, if any
// (a publisher uses it to find the payload override of the occurrence it
// publishes, keyed by the occurrence rather than by a retry time).
func (r *Rule) OccurrenceAt(at time.Time) (Occurrence, bool) {
	o, ok := r.NextOccurrence(at.Add(-time.Nanosecond))
	if !ok || !o.At.Equal(at) {
		return Occurrence{}, false
	}
	return o, true
}

// Payload returns the override_payload record of the series date (first
// such exception), nil when there is none.
func (r *Rule) Payload(date string) json.RawMessage {
	for _, e := range r.Exceptions {
		if e.Date == date && e.Type == OverridePayload {
			return e.Record
		}
	}
	return nil
}

// NextOccurrence is Next with the occurrence's date, local time and the
// exceptions applied to it.
func (r *Rule) NextOccurrence(after time.Time) (Occurrence, bool) {
	if r.RRule != "" {
		return r.nextRRule(after)
	}
	p, err := r.plan(after)
	if err != nil {
		return Occurrence{}, false
	}
	best, ok := p.regular(after)
	if o, found := p.excepted(after); found && (!ok || o.At.Before(best.At)) {
		best, ok = o, true
	}
	if !ok {
		return Occurrence{}, false
	}
	return p.describe(best), true
}

// segment is the stretch of dates [from, until) governed by one pattern.
type segment struct {
	core   *Core
	from   day
	until  day
	anchor day
	loc    *time.Location
}

const (
	minDay = day(-1 << 40)
	maxDay = day(1 << 40)
)

// merged is every exception of one date combined.
type merged struct {
	cancel bool
	move   *time.Time
	time   *TimeSpec
	record json.RawMessage
}

type plan struct {
	zone *time.Location
	segs []segment
	end  day // endDate, maxDay if none
	last day // last series date (endDate or the Count-th date)
	exc  map[day]*merged
	// notBefore is the Anchor when it starts the series: occurrences
	// at or before the instant the schedule was made are not part of it
	// (Next is strictly after, so one at that instant could count
	// without ever firing).
	notBefore time.Time
}

// candidate is an occurrence before description.
type candidate struct {
	At  time.Time
	d   day
	seg *segment
}

func (r *Rule) plan(after time.Time) (*plan, error) {
	base, err := newSegment(&r.Core)
	if err != nil {
		return nil, err
	}
	p := &plan{zone: base.loc, end: maxDay, last: maxDay}
	start, err := r.seriesStart(after, base.loc)
	if err != nil {
		return nil, err
	}
	if r.Core.Type != Once {
		base.from, base.anchor = start, start
		if r.StartDate == "" {
			p.notBefore = r.Anchor
		}
	}
	p.segs = []segment{base}
	if err := p.addRevisions(r.Revisions, start); err != nil {
		return nil, err
	}
	if r.EndDate != "" {
		if p.end, err = parseDay(r.EndDate); err != nil {
			return nil, err
		}
		p.last = p.end
	}
	if r.Count > 0 {
		p.last = min(p.last, p.countLast(r.Count))
	}
	p.exc = mergeExceptions(r.Exceptions)
	return p, nil
}

func newSegment(c *Core) (segment, error) {
	s := segment{core: c, from: minDay, until: maxDay, loc: time.UTC}
	if c.Type == Once {
		return s, nil
	}
	if c.Time == nil {
		return s, &FieldError{Field: "rule.time", Message: "required"}
	}
	loc, err := c.Time.location()
	s.loc = loc
	return s, err
}

func (r *Rule) seriesStart(after time.Time, loc *time.Location) (day, error) {
	switch {
	case r.StartDate != "":
		return parseDay(r.StartDate)
	case !r.Anchor.IsZero():
		return dayIn(r.Anchor, loc), nil
	}
	return dayIn(after, loc), nil
}

// addRevisions splits the series at each revision's effective date; a
// revision governs from that date (not before the series start) until the
// next one, its periods anchored at its first date.
func (p *plan) addRevisions(revs []Revision, start day) error {
	sorted := slices.Clone(revs)
	slices.SortStableFunc(sorted, func(a, b Revision) int {
		return cmpString(a.EffectiveFromDate, b.EffectiveFromDate)
	})
	for i := range sorted {
		eff, err := parseDay(sorted[i].EffectiveFromDate)
		if err != nil {
			return err
		}
		s, err := newSegment(&sorted[i].Rule)
		if err != nil {
			return err
		}
		s.from = max(eff, start)
		s.anchor = s.from
		for len(p.segs) > 0 && p.segs[len(p.segs)-1].from >= s.from {
			p.segs = p.segs[:len(p.segs)-1]
		}
		if n := len(p.segs); n > 0 {
			p.segs[n-1].until = s.from
		}
		p.segs = append(p.segs, s)
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// first returns the segment's first date on or after d.
func (s *segment) first(d day) (day, bool) {
	if s.core.Type == Once {
		od := dayIn(s.core.Datetime, time.UTC)
		return od, od >= d && od >= s.from && od < s.until
	}
	c, ok := s.core.firstOnOrAfter(s.anchor, max(d, s.from))
	return c, ok && c < s.until
}

func (s *segment) realize(d day, ts *TimeSpec) (time.Time, error) {
	if ts == nil && s.core.Type == Once {
		return s.core.Datetime, nil
	}
	if ts == nil {
		ts = s.core.Time
	}
	return ts.realize(d)
}

// countLast returns the date of the count-th candidate of the series (or
// maxDay when the series has fewer). Cancelled and moved dates count.
func (p *plan) countLast(count int) day {
	n := 0
	for i := range p.segs {
		s := &p.segs[i]
		startDay := p.startDay(s)
		for d, ok := s.first(s.from); ok; d, ok = s.first(d + 1) {
			if d <= startDay && p.beforeStart(s, d) {
				continue
			}
			if n++; n == count {
				return d
			}
		}
	}
	return maxDay
}

func mergeExceptions(exs []Exception) map[day]*merged {
	out := make(map[day]*merged, len(exs))
	for i := range exs {
		e := &exs[i]
		d, err := parseDay(e.Date)
		if err != nil {
			continue
		}
		m := out[d]
		if m == nil {
			m = &merged{}
			out[d] = m
		}
		switch e.Type {
		case Cancel:
			m.cancel = true
		case Move:
			if m.move == nil {
				m.move = &e.NewDatetime
			}
		case OverrideTime:
			if m.time == nil {
				m.time = e.Time
			}
		case OverridePayload:
			if m.record == nil {
				m.record = e.Record
			}
		}
	}
	return out
}

// regular returns the earliest occurrence after `after` on a date without a
// cancel, move or override_time exception.
func (p *plan) regular(after time.Time) (candidate, bool) {
	var best candidate
	found := false
	for i := range p.segs {
		s := &p.segs[i]
		for d, ok := s.first(dayIn(after, s.loc) - 1); ok && d <= p.last; d, ok = s.first(d + 1) {
			if m := p.exc[d]; m != nil && (m.cancel || m.move != nil || m.time != nil) {
				continue
			}
			t, err := s.realize(d, nil)
			if err != nil {
				break
			}
			if t.After(after) && t.After(p.notBefore) {
				if !found || t.Before(best.At) {
					best, found = candidate{At: t, d: d, seg: s}, true
				}
				break
			}
		}
	}
	return best, found
}

// excepted returns the earliest moved or time-overridden occurrence after
// `after`. Such an exception applies only on a date of the series.
func (p *plan) excepted(after time.Time) (candidate, bool) {
	var best candidate
	found := false
	for d, m := range p.exc {
		if m.cancel || (m.move == nil && m.time == nil) || d > p.last {
			continue
		}
		s := p.segFor(d)
		if s == nil {
			continue
		}
		if c, ok := s.first(d); !ok || c != d || p.beforeStart(s, d) {
			continue
		}
		t, ok := p.exceptedAt(s, d, m)
		if !ok || !t.After(after) {
			continue
		}
		if !found || t.Before(best.At) || (t.Equal(best.At) && d < best.d) {
			best, found = candidate{At: t, d: d, seg: s}, true
		}
	}
	return best, found
}

func (p *plan) exceptedAt(s *segment, d day, m *merged) (time.Time, bool) {
	if m.move != nil {
		t := *m.move
		return t, dayIn(t, p.zone) <= p.end // a move past endDate drops the occurrence
	}
	t, err := s.realize(d, m.time)
	return t, err == nil
}

// beforeStart reports whether date d's regular occurrence precedes the
// series start instant (the Anchor, on its own date) or falls on it.
func (p *plan) beforeStart(s *segment, d day) bool {
	if d > p.startDay(s) {
		return false
	}
	t, err := s.realize(d, nil)
	return err != nil || !t.After(p.notBefore)
}

// startDay returns the date of the series start instant in the segment's
// zone (minDay when the series starts at a date, not an instant).
func (p *plan) startDay(s *segment) day {
	if p.notBefore.IsZero() {
		return minDay
	}
	return dayIn(p.notBefore, s.loc)
}

func (p *plan) segFor(d day) *segment {
	for i := range p.segs {
		if s := &p.segs[i]; s.from <= d && d < s.until {
			return s
		}
	}
	return nil
}

func (p *plan) describe(c candidate) Occurrence {
	o := Occurrence{At: c.At.UTC(), Date: c.d.String(), Local: c.At.In(c.seg.loc).Format(time.RFC3339)}
	m := p.exc[c.d]
	if m == nil {
		return o
	}
	switch {
	case m.move != nil:
		o.Exceptions = append(o.Exceptions, Move)
	case m.time != nil:
		o.Exceptions = append(o.Exceptions, OverrideTime)
	}
	if m.record != nil {
		o.Exceptions = append(o.Exceptions, OverridePayload)
		o.Record = m.record
	}
	return o
}

package recurrence

import (
	"errors"
	"sync"
	"time"
)

var zones sync.Map // name → *time.Location

// loadZone loads an IANA zone, caching it. "Local" and "" are refused: a
// rule must not depend on the host's zone.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("not an IANA zone")
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

// LoadZone loads an IANA zone as rules do: cached, and refusing "" and
// "Local" (a schedule must not depend on the host's zone).
func LoadZone(name string) (*time.Location, error) { return loadZone(name) }

// location returns the zone a time spec counts dates in.
func (ts *TimeSpec) location() (*time.Location, error) {
	if ts.Type == FixedInstant {
		return time.FixedZone("", ts.UTCOffsetMinutes*60), nil
	}
	return loadZone(ts.Timezone)
}

// realize returns the instant of date d at the time spec.
func (ts *TimeSpec) realize(d day) (time.Time, error) {
	loc, err := ts.location()
	if err != nil {
		return time.Time{}, err
	}
	y, m, dd := d.ymd()
	return wallInstant(loc, y, m, dd, ts.Hour, ts.Minute, ts.Second), nil
}

// wallInstant resolves a local wall time in loc to an instant: a time in a
// spring-forward gap is read with the offset before the transition (so it
// fires at wall time + gap); an ambiguous fall-back time resolves to the
// earlier instant.
func wallInstant(loc *time.Location, y, m, d, hh, mm, ss int) time.Time {
	naive := time.Date(y, time.Month(m), d, hh, mm, ss, 0, time.UTC)
	t := time.Date(y, time.Month(m), d, hh, mm, ss, 0, loc)
	start, end := t.ZoneBounds()
	if wallOf(t).Equal(naive) {
		return earliest(loc, naive, t, start, end)
	}
	tr := start
	if wallOf(t).Before(naive) {
		tr = end
	}
	if tr.IsZero() {
		return t
	}
	_, pre := tr.Add(-time.Second).In(loc).Zone()
	return naive.Add(-time.Duration(pre) * time.Second)
}

// wallOf returns t's wall clock in its own zone as a UTC time.
func wallOf(t time.Time) time.Time {
	_, off := t.Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// earliest returns the earliest instant whose wall clock in loc is naive,
// trying the offsets of t's zone period and its neighbours.
func earliest(loc *time.Location, naive, t, start, end time.Time) time.Time {
	best := t
	var probes []time.Time
	if !start.IsZero() {
		probes = append(probes, start.Add(-time.Second))
	}
	if !end.IsZero() {
		probes = append(probes, end)
	}
	for _, p := range probes {
		_, off := p.In(loc).Zone()
		u := naive.Add(-time.Duration(off) * time.Second).In(loc)
		if wallOf(u).Equal(naive) && u.Before(best) {
			best = u
		}
	}
	return best
}

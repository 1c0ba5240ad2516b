package projection

import (
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
)

// Write points a PDS charges against an account's rate limit (5,000 an
// hour, 35,000 a day on Bluesky's PDSes).
const (
	PointsCreate = 3
	PointsPut    = 2
	PointsDelete = 1
)

// Points is what a draft's write costs.
func Points(a eventsv1.Action) int {
	switch a {
	case eventsv1.Action_ACTION_PUT:
		return PointsPut
	case eventsv1.Action_ACTION_DELETE:
		return PointsDelete
	}
	return PointsCreate
}

// DraftPoints is what publishing a draft costs: a batch costs the sum of
// its writes.
func DraftPoints(d Draft) int {
	if d.Action != eventsv1.Action_ACTION_BATCH {
		return Points(d.Action)
	}
	n := 0
	for _, w := range d.Writes {
		n += Points(w.GetAction())
	}
	return n
}

// spendWindow is how long a write counts against an account's budget.
const spendWindow = 24 * time.Hour

// spend is one write alf made for an account.
type spend struct {
	at     time.Time
	points int
}

// recordSpend notes a publish; entries older than a day are dropped.
func (v *View) recordSpend(d Draft) {
	log := v.spends[d.DID]
	cut := 0
	for cut < len(log) && d.PublishedAt.Sub(log[cut].at) > spendWindow {
		cut++
	}
	v.spends[d.DID] = append(log[cut:], spend{at: d.PublishedAt, points: DraftPoints(d)})
}

// Budget is a limit of write points per window.
type Budget struct {
	Points int
	Window time.Duration
}

// WriteAt is the earliest instant, not before now, at which the account
// can spend cost more points within every budget, counting the writes alf
// published for it.
func (v *View) WriteAt(did string, cost int, now time.Time, budgets ...Budget) time.Time {
	v.mu.RLock()
	defer v.mu.RUnlock()
	at := now
	for _, b := range budgets {
		if t := freesAt(v.spends[did], cost, now, b); t.After(at) {
			at = t
		}
	}
	return at
}

// freesAt is when enough of the window's oldest writes expire for cost to
// fit in the budget.
func freesAt(log []spend, cost int, now time.Time, b Budget) time.Time {
	used := 0
	start := len(log)
	for i := len(log) - 1; i >= 0 && now.Sub(log[i].at) < b.Window; i-- {
		used += log[i].points
		start = i
	}
	need := used + cost - b.Points
	for i := start; need > 0 && i < len(log); i++ {
		need -= log[i].points
		if need <= 0 {
			return log[i].at.Add(b.Window)
		}
	}
	return now
}

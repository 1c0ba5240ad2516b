package projection

import "time"

// Schedule returns a schedule by ID.
func (v *View) Schedule(id string) (Schedule, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := v.schedules[id]
	if s == nil {
		return Schedule{}, false
	}
	return *s, true
}

// ScheduleIDs returns the IDs of every schedule that may have work to do:
// active ones, and ended ones whose dropped draft may still be queued.
func (v *View) ScheduleIDs() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []string
	for id, s := range v.schedules {
		if s.Status == ScheduleActive || s.Dropped != "" {
			out = append(out, id)
		}
	}
	return out
}

// ScheduleQuery selects a page of an account's schedules.
type ScheduleQuery struct {
	Status ScheduleStatus // "" for every status
	Limit  int            // 1–100; 0 means 50
	Cursor string         // from the previous page
}

// ListSchedules returns a page of an account's schedules, newest first, ties
// broken by ID, and the cursor of the next page ("" after the last).
func (v *View) ListSchedules(did string, q ScheduleQuery) ([]Schedule, string, error) {
	after, err := parseCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	_, cmp := listOrder(false)

	v.mu.RLock()
	rows := make([]Schedule, 0, len(v.schedulesByDID[did]))
	for id := range v.schedulesByDID[did] {
		s := v.schedules[id]
		if q.Status != "" && s.Status != q.Status {
			continue
		}
		if after != nil && cmp(after.at, after.id, s.CreatedAt, s.ID) >= 0 {
			continue
		}
		rows = append(rows, *s)
	}
	v.mu.RUnlock()

	rows, next := cut(rows, q.Limit, func(s Schedule) (time.Time, string) { return s.CreatedAt, s.ID }, cmp)
	return rows, next, nil
}

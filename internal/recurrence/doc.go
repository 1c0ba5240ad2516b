// Package recurrence computes the occurrences of a recurring schedule.
//
// A Rule is the reference service's RecurrenceRule JSON (a base rule such as
// daily, weekly or monthly_nth_weekday with a wall-clock or fixed-offset
// time, plus startDate, endDate, count, revisions and exceptions) or an
// RFC 5545 rule ({"rrule": "FREQ=…", "timezone": "…"}). Parse decodes and
// validates one, rejecting malformed rules with a *FieldError that names
// the offending field; Next and Occurrences then answer "when does it fire
// after this instant".
//
// Semantics, where they differ from the reference service:
//   - intervals and count are anchored at the series start (startDate, else
//     Rule.Anchor, the schedule's creation time), never at the query time;
//   - a series that starts at the Anchor holds only occurrences strictly
//     after it: one at the very instant of creation neither fires nor
//     counts (Next is strictly after, so it could never fire);
//   - a revision replaces the whole rule (type, days, interval, time) from
//     its effectiveFromDate, with its own periods anchored at that date;
//   - a wall time inside a spring-forward gap fires at wall time + gap
//     (02:30 New York on 2024-03-10 is 07:30Z); an ambiguous fall-back wall
//     time fires once, at the earlier instant;
//   - fixed-offset rules count dates at their own offset;
//   - exceptions on one date combine: cancel wins, move beats override_time,
//     override_payload adds to either; moved occurrences are returned in
//     chronological order with the rest of the series;
//   - a once rule ignores startDate and Anchor (as the reference does) but
//     honours endDate and its exceptions (keyed by its UTC date);
//   - unknown JSON fields are ignored; known ones are range-checked.
//
// RFC 5545 rules ({"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", "timezone":
// "Europe/Paris"}, with optional startDate, endDate, count and cancel or
// override_payload exceptions) run through rrule-go in floating time, each
// wall time then resolved in the zone as above. DTSTART comes from
// startDate or Anchor, so BYHOUR is required for DAILY and coarser rules;
// SECONDLY and rules that never occur are rejected.
//
// Typical use:
//
//	r, err := recurrence.Parse(ruleJSON)
//	if err != nil { /* 400, err names the field */ }
//	r.Anchor = createdAt
//	next, ok := r.Next(lastOccurrence)
package recurrence

import _ "time/tzdata" // zone data even on hosts without /usr/share/zoneinfo

// Package english reads recurrence rules written in English into the
// reference's RecurrenceRule JSON, and writes such rules back in English.
//
// Parse is what a client's "every weekday at 9am eastern" box calls; Format
// says a stored rule to its owner. Both work on the rule JSON alone (spec
// §8.1), so the engine in package recurrence can decode what Parse writes:
//
//	rule, err := english.Parse("every 2 weeks on monday at noon until 2026-12-31", "UTC")
//	text, err := english.Format(rule) // "every other week on Monday at noon (UTC), until 2026-12-31"
//
// Parse reads what the reference's parser reads (spec §8.8) and writes the
// same rules, with interval written out for every repeating type. It fixes
// these misreadings of the reference (spec §14 item 20, issue 4):
//
//   - "every 3 months on the 1st" is monthly (and "every 2 months on the
//     first Monday" the first Monday of every other month): "months" is a
//     month word, and the day comes after the interval is cut out;
//   - "every 2 weeks at noon" is weekly (on Monday, the default day);
//   - "tuesdays" is Tuesday;
//   - "last day of the month" is day 31, which the engine clamps to the
//     month's last day;
//   - "biweekly" and "fortnightly" are every two weeks;
//   - "every 31st of each month" is the 31st of every month, not interval
//     31: an ordinal after "every" is an interval before a unit ("every 2nd
//     week", "every second week") or when no month or year is named
//     ("every 3rd friday"), and otherwise names a day;
//   - times, days of the month, intervals, counts, dates and UTC offsets
//     are range-checked ("at 25:99", "the 40th" are errors);
//   - "for 2 weeks" is an error asking for an end date or a count (the
//     reference ignored it, and "weeks" now makes a rule weekly);
//   - a zone may be named by its full IANA name (America/Argentina/Buenos_Aires),
//     and an unknown one is an error rather than a rule that never fires.
//
// So that every rule Format says reads back as itself, Parse also reads
// "every N years", "5th"/"fifth", fixed offsets ("9am (UTC+5:30)" is a
// fixed_instant time), a zone Format writes by name in brackets ("(Japan)";
// a bracketed zone word such as "(EST)" still reads as the word's zone) and
// "once on March 15, 2024 at 2:30 PM UTC". It reads a time without "at" when
// it says am or pm ("every monday 5pm"), and "a.m."/"p.m.".
//
// Misreadings issue 4 does not list are kept as the reference has them:
// "first weekday of each month" is the first Monday, and "every quarter",
// "every christmas" and "every mar 3rd" are daily.
package english

package english

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxInterval bounds "every N …": larger intervals are almost certainly a
// typing mistake.
const maxInterval = 1000

var (
	aMPattern       = regexp.MustCompile(`\b([ap])\.m\.?`)
	trailingPattern = regexp.MustCompile(`[.,;!?]+$`)
	startPattern    = regexp.MustCompile(`\b(?:starting|beginning|from) (?:on )?(\d{4}-\d{2}-\d{2})\b`)
	endPattern      = regexp.MustCompile(`\b(?:until|till|through|thru|ending|end|ends) (?:on )?(\d{4}-\d{2}-\d{2})\b`)
	countForPattern = regexp.MustCompile(`\bfor (\d+) (?:times?|occurrences?|repetitions?)\b`)
	countPattern    = regexp.MustCompile(`\b(\d+) (?:times?|occurrences?)\b`)
	// intervalPattern is "every|each other|N[th]|second… [unit]".
	intervalPattern = regexp.MustCompile(`\b(every|each) (other|second|third|fourth|fifth|\d+)(st|nd|rd|th)?\b( (?:days?|weeks?|months?|years?|quarters?)\b)?`)
	// durationPattern is "for 2 weeks": a length of time, which no rule
	// field holds.
	durationPattern  = regexp.MustCompile(`\bfor (?:\d+|a|an|one) (?:days?|weeks?|months?|years?)\b`)
	biweeklyPattern  = regexp.MustCompile(`\b(?:bi-?weekly|fortnightly)\b`)
	fortnightPattern = regexp.MustCompile(`\bfortnight\b`)
)

// parsed is what Parse has understood so far.
type parsed struct {
	text      string // normalised, understood phrases cut out
	zone      string // IANA zone of a wall time
	zoneNamed bool   // the text named zone by its IANA name
	offset    *int   // minutes east of UTC of a fixed time, instead of zone
	clock     clock
	interval  int
	startDate string
	endDate   string
	count     *int
}

// Parse reads an English rule ("every weekday at 9am eastern", "every 2 weeks on monday and
// friday at noon until 2026-12-31") into the reference's RecurrenceRule JSON, or an error saying
// what it did not understand.
//
// defaultZone (an IANA name; "" means UTC) is the zone of a rule whose text
// names none. The text reads as in the reference's parser (spec §8.8), with
// the misreadings listed in the package documentation fixed.
func Parse(text, defaultZone string) (json.RawMessage, error) {
	if defaultZone == "" {
		defaultZone = "UTC"
	}
	zone, err := loadZone(defaultZone)
	if err != nil {
		return nil, fmt.Errorf("default zone: %w", err)
	}
	p := &parsed{zone: zone, interval: 1}
	if err := p.read(text); err != nil {
		return nil, err
	}
	core, err := p.rule()
	if err != nil {
		return nil, err
	}
	return p.encode(core)
}

// read understands everything but the rule's type: zone, end conditions,
// time of day and interval.
func (p *parsed) read(text string) error {
	iana, phrase := ianaPattern.FindString(text), ""
	if iana == "" {
		iana, phrase = bracketedZone(text)
	}
	p.text = normalise(text)
	if p.text == "" {
		return errors.New("empty rule: say how often, like \"every day at 9am\"")
	}
	if iana != "" {
		zone, err := loadZone(iana)
		if err != nil {
			return err
		}
		p.zone, p.zoneNamed = zone, true
		p.text = strings.ReplaceAll(p.text, strings.ToLower(cmp.Or(phrase, iana)), " ")
	}
	steps := []func() error{p.readOffset, p.readEnds, p.readZoneWords, p.readClock, p.readInterval}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	p.text = collapse(p.text)
	return nil
}

// normalise lowercases the text, reads "a.m." as "am", collapses white
// space and drops trailing punctuation.
func normalise(text string) string {
	t := strings.ToLower(text)
	t = aMPattern.ReplaceAllString(t, "${1}m")
	t = collapse(t)
	return strings.TrimSpace(trailingPattern.ReplaceAllString(t, ""))
}

func (p *parsed) readOffset() error {
	minutes, found, rest, err := cutOffset(p.text)
	if err != nil {
		return err
	}
	if found {
		p.offset, p.text = &minutes, rest
	}
	return nil
}

// readEnds cuts out "starting DATE", "until DATE" and "for N times".
func (p *parsed) readEnds() error {
	var err error
	if p.startDate, err = p.cutDate(startPattern); err != nil {
		return fmt.Errorf("start date: %w", err)
	}
	if p.endDate, err = p.cutDate(endPattern); err != nil {
		return fmt.Errorf("end date: %w", err)
	}
	if p.startDate != "" && p.endDate != "" && p.endDate < p.startDate {
		return fmt.Errorf("end date %s is before start date %s", p.endDate, p.startDate)
	}
	return p.readCount()
}

// cutDate cuts out re's first match and checks the date it holds.
func (p *parsed) cutDate(re *regexp.Regexp) (string, error) {
	var m []string
	if m, p.text = cutFirst(re, p.text); m == nil {
		return "", nil
	}
	return checkDate(m[1])
}

// readCount cuts out "for N times" or "N times", and refuses a length of
// time ("for 2 weeks"), which no rule field holds.
func (p *parsed) readCount() error {
	m, rest := cutFirst(countForPattern, p.text)
	if m == nil {
		m, rest = cutFirst(countPattern, p.text)
	}
	p.text = rest
	if d := durationPattern.FindString(p.text); d != "" {
		return fmt.Errorf("%q: say an end date (\"until 2026-12-31\") or a number of times (\"for 10 times\")", d)
	}
	if m == nil {
		return nil
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return fmt.Errorf("count %q: must be a whole number of at least 1", m[0])
	}
	p.count = &n
	return nil
}

// checkDate checks a YYYY-MM-DD date names a real day.
func checkDate(s string) (string, error) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", fmt.Errorf("%s is not a date", s)
	}
	return s, nil
}

// readZoneWords reads a zone named by word ("eastern", "pst", "london")
// unless an IANA name or an offset said it, and cuts every zone word out.
func (p *parsed) readZoneWords() error {
	zone, rest := zoneInText(p.text)
	p.text = rest
	if zone != "" && p.offset == nil && !p.zoneNamed {
		p.zone = zone
	}
	return nil
}

func (p *parsed) readClock() error {
	var err error
	p.clock, p.text, err = cutClock(p.text)
	return err
}

// readInterval reads "every other", "every N <unit>", "biweekly" and
// "fortnightly", and leaves "every <unit>" in the text.
func (p *parsed) readInterval() error {
	if biweeklyPattern.MatchString(p.text) || fortnightPattern.MatchString(p.text) {
		p.interval = 2
		p.text = biweeklyPattern.ReplaceAllString(p.text, "weekly")
		p.text = fortnightPattern.ReplaceAllString(p.text, "week")
	}
	for _, m := range intervalPattern.FindAllStringSubmatchIndex(p.text, -1) {
		n, ok, err := p.intervalAt(m)
		if err != nil {
			return err
		}
		if ok {
			p.interval = n
			p.text = p.text[:m[0]] + group(p.text, m, 1) + group(p.text, m, 4) + p.text[m[1]:]
			return nil
		}
	}
	return nil
}

// intervalAt reads one match of intervalPattern: "every other" is 2;
// "every N" is N; an ordinal ("every 2nd", "every second") is an interval
// before a unit ("every 2nd week"), and a bare "every 3rd" is one only when
// no month or year is named, for then it names a day ("every 31st of each
// month", "every 2nd tuesday of the month").
func (p *parsed) intervalAt(m []int) (int, bool, error) {
	n, suffix, unit := group(p.text, m, 2), group(p.text, m, 3), group(p.text, m, 4)
	if n == "other" {
		return 2, true, nil
	}
	if word, ok := dayWords[n]; ok {
		return word, unit != "", nil
	}
	if suffix != "" && unit == "" && p.namesMonthOrYear() {
		return 0, false, nil
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 1 || v > maxInterval {
		return 0, false, fmt.Errorf("interval %q: must be 1-%d", group(p.text, m, 0), maxInterval)
	}
	return v, true, nil
}

// namesMonthOrYear reports whether the text says month, year or a month's
// name.
func (p *parsed) namesMonthOrYear() bool {
	_, named := firstMonth(p.text)
	return named || monthPattern.MatchString(p.text) || yearPattern.MatchString(p.text)
}

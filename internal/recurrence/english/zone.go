package english

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ianaPattern finds an IANA zone name in the text as written. The reference
// kept only one segment after the area (America/Argentina/Buenos_Aires read
// as America/Argentina); alf keeps them all, and also reads Etc/….
var ianaPattern = regexp.MustCompile(
	`(?i)\b(?:america|europe|asia|australia|africa|pacific|atlantic|indian|arctic|antarctica|etc)(?:/[a-z0-9_+-]+)+`)

// bracketedPattern is a word in brackets, as Format writes a zone it has no
// label for: "(Japan)", "(US/Eastern)".
var bracketedPattern = regexp.MustCompile(`\(([A-Za-z0-9_+/-]+)\)`)

// bracketedZone returns the first bracketed zone name in the text as
// written, and the brackets around it, if it names a zone and is not a zone
// word (so "(EST)" still reads as New York, as in the reference).
func bracketedZone(text string) (zone, phrase string) {
	for _, m := range bracketedPattern.FindAllStringSubmatch(text, -1) {
		if slices.Contains(allZoneWords(), strings.ToLower(m[1])) {
			continue
		}
		if _, err := loadZone(m[1]); err == nil {
			return m[1], m[0]
		}
	}
	return "", ""
}

// zonePhrases are the multi-word zone names, tried before single words.
var zonePhrases = []struct{ phrase, zone string }{
	{"eastern time", "America/New_York"},
	{"central time", "America/Chicago"},
	{"mountain time", "America/Denver"},
	{"pacific time", "America/Los_Angeles"},
}

// zoneWords are the single zone words, in the order the reference tries them.
var zoneWords = []struct {
	zone  string
	words []string
}{
	{"America/New_York", []string{"est", "edt", "et", "eastern"}},
	{"America/Chicago", []string{"cst", "cdt", "ct", "central"}},
	{"America/Denver", []string{"mst", "mdt", "mt", "mountain"}},
	{"America/Los_Angeles", []string{"pst", "pdt", "pt", "pacific"}},
	{"UTC", []string{"gmt", "utc"}},
	{"Europe/London", []string{"bst", "london"}},
	{"Europe/Paris", []string{"cet", "cest", "paris"}},
	{"Asia/Tokyo", []string{"jst", "tokyo"}},
	{"Australia/Sydney", []string{"aest", "aedt", "sydney"}},
}

// zoneLabels are the labels Format writes after a time; other zones are
// written as their IANA name.
var zoneLabels = map[string]string{
	"America/New_York":    "ET",
	"America/Chicago":     "CT",
	"America/Denver":      "MT",
	"America/Los_Angeles": "PT",
	"Europe/London":       "London",
	"Europe/Paris":        "Paris",
	"Asia/Tokyo":          "JST",
	"Australia/Sydney":    "Sydney",
	"UTC":                 "UTC",
}

var (
	zonePhrasePattern = regexp.MustCompile(`\b(?:eastern|central|mountain|pacific) time\b`)
	zoneWordPattern   = regexp.MustCompile(`\b(?:` + strings.Join(allZoneWords(), "|") + `)\b`)
	// offsetPattern is a fixed UTC offset as Format writes it: "UTC-5", "UTC+5:30".
	offsetPattern = regexp.MustCompile(`\b(?:utc|gmt) ?([+-]) ?(\d{1,2})(?::(\d\d))?\b`)
)

func allZoneWords() []string {
	var all []string
	for _, z := range zoneWords {
		all = append(all, z.words...)
	}
	return all
}

// loadZone checks that name is an IANA zone and returns it as the zone
// database spells it: a name typed in lower case ("america/new_york") is
// tried with each part capitalised.
func loadZone(name string) (string, error) {
	for _, candidate := range []string{name, titleZone(name)} {
		if candidate != "" && candidate != "Local" && isZone(candidate) {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("unknown time zone %q", name)
}

// knownZones holds the names isZone has found in the zone database (at most
// the database's few hundred names), so that Parse reads each from disk once.
var knownZones sync.Map

// isZone reports whether name is in the zone database.
func isZone(name string) bool {
	if _, ok := knownZones.Load(name); ok {
		return true
	}
	if _, err := time.LoadLocation(name); err != nil {
		return false
	}
	knownZones.Store(name, true)
	return true
}

// titleZone capitalises each part of a zone name between '/', '_' and '-'.
func titleZone(name string) string {
	b := []byte(strings.ToLower(name))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '/' || c == '_' || c == '-'
	}
	return string(b)
}

// zoneInText returns the zone a normalised text names by phrase or word,
// and the text without any zone phrase or word.
func zoneInText(text string) (zone, rest string) {
	for _, p := range zonePhrases {
		if zone == "" && strings.Contains(text, p.phrase) {
			zone = p.zone
		}
	}
	found := zoneWordPattern.FindAllString(text, -1)
	for _, z := range zoneWords {
		for _, w := range z.words {
			if zone == "" && slices.Contains(found, w) {
				zone = z.zone
			}
		}
	}
	rest = zonePhrasePattern.ReplaceAllString(text, " ")
	return zone, zoneWordPattern.ReplaceAllString(rest, " ")
}

// cutOffset finds a fixed UTC offset in a normalised text and returns it in
// minutes east of UTC, with the text without it.
func cutOffset(text string) (minutes int, found bool, rest string, err error) {
	m := offsetPattern.FindStringSubmatch(text)
	if m == nil {
		return 0, false, text, nil
	}
	hours, _ := strconv.Atoi(m[2])
	mins := 0
	if m[3] != "" {
		mins, _ = strconv.Atoi(m[3])
	}
	if hours > 14 || mins > 59 || hours*60+mins > 14*60 {
		return 0, false, text, fmt.Errorf("UTC offset %q is out of range (at most 14 hours)", m[0])
	}
	minutes = hours*60 + mins
	if m[1] == "-" {
		minutes = -minutes
	}
	return minutes, true, strings.Replace(text, m[0], " ", 1), nil
}

// timeLabel is how Format names a time spec's zone: "ET", "UTC+5:30", ...
func timeLabel(t *timeSpec) string {
	if t.Type == timeFixed {
		return offsetLabel(*t.UTCOffsetMinutes)
	}
	if label, ok := zoneLabels[t.Timezone]; ok {
		return label
	}
	return t.Timezone
}

// offsetLabel writes a fixed offset: "UTC" for 0, else "UTC±H" or "UTC±H:MM".
func offsetLabel(minutes int) string {
	if minutes == 0 {
		return "UTC"
	}
	sign := "+"
	if minutes < 0 {
		sign, minutes = "-", -minutes
	}
	if minutes%60 == 0 {
		return fmt.Sprintf("UTC%s%d", sign, minutes/60)
	}
	return fmt.Sprintf("UTC%s%d:%02d", sign, minutes/60, minutes%60)
}

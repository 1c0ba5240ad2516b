package english_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/latency-fabric/alf/internal/recurrence/english"
)

// zoneWordZones are zone names that are also zone words: Format says them
// as they are, and Parse reads those words as the reference does ("EST" is
// New York), so they cannot go round.
var zoneWordZones = []string{"EST", "MST", "CET", "GMT"}

// FuzzParse checks, for any text and default zone, that Parse does not
// panic, that a rule it gives is a JSON object with a typed "rule", and that
// Format can say it in words Parse reads back to a rule Format says the same
// way (the zone names above aside). The seed corpus in testdata/fuzz/FuzzParse holds the inputs of
// testdata/parse.json and some broken ones.
func FuzzParse(f *testing.F) {
	f.Add("every day at 9am", "UTC")
	f.Fuzz(func(t *testing.T, text, zone string) {
		rule, err := english.Parse(text, zone)
		if err != nil {
			if rule != nil {
				t.Fatalf("Parse(%q, %q) gave %s with error %v", text, zone, rule, err)
			}
			return
		}
		var shape struct {
			Rule struct {
				Type string `json:"type"`
				Time struct {
					Timezone string `json:"timezone"`
				} `json:"time"`
			} `json:"rule"`
		}
		if err := json.Unmarshal(rule, &shape); err != nil || shape.Rule.Type == "" {
			t.Fatalf("Parse(%q, %q) = %s: not a rule (%v)", text, zone, rule, err)
		}
		if slices.Contains(zoneWordZones, shape.Rule.Time.Timezone) {
			return // said as "(EST)", read as the word's zone
		}
		said, err := english.Format(rule)
		if err != nil {
			t.Fatalf("Format(Parse(%q, %q) = %s): %v", text, zone, rule, err)
		}
		back, err := english.Parse(said, "UTC")
		if err != nil {
			t.Fatalf("Parse(%q) (said for %s): %v", said, rule, err)
		}
		if again, err := english.Format(back); err != nil || again != said {
			t.Fatalf("%s said %q, read back %s, said %q (%v)", rule, said, back, again, err)
		}
	})
}

package english_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/latency-fabric/alf/internal/recurrence/english"
)

// formatCase is one vector of testdata/format.json: a rule and the English
// Format must give for it, or a fragment of the error it must give.
type formatCase struct {
	Rule  json.RawMessage `json:"rule"`
	Want  string          `json:"want"`
	Error string          `json:"error"`
	Note  string          `json:"note"`
}

func loadFormatCases(t testing.TB) []formatCase {
	t.Helper()
	data, err := os.ReadFile("testdata/format.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []formatCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("testdata/format.json: %v", err)
	}
	return cases
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range loadFormatCases(t) {
		t.Run(string(tc.Rule), func(t *testing.T) {
			t.Parallel()
			got, err := english.Format(tc.Rule)
			if tc.Error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.Error) {
					t.Fatalf("Format(%s) = %q, %v; want error containing %q (%s)", tc.Rule, got, err, tc.Error, tc.Note)
				}
				return
			}
			if err != nil {
				t.Fatalf("Format(%s): %v (%s)", tc.Rule, err, tc.Note)
			}
			if got != tc.Want {
				t.Errorf("Format(%s)\n got %q\nwant %q\n(%s)", tc.Rule, got, tc.Want, tc.Note)
			}
		})
	}
}

func TestFormatRefusesWhatIsNotARule(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `nope`, `[]`, `{"rule":"daily"}`, `{"rule":{"type":"daily","time":{"type":"wall_time","hour":9.5,"minute":0,"timezone":"UTC"}}}`} {
		if got, err := english.Format([]byte(in)); err == nil {
			t.Errorf("Format(%s) = %q, want an error", in, got)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	cases := loadFormatCases(b)
	for b.Loop() {
		for _, tc := range cases {
			_, _ = english.Format(tc.Rule)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cases)), "ns/rule")
}

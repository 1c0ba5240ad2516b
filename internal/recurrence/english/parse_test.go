package english_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/latency-fabric/alf/internal/recurrence/english"
)

// parseCase is one vector of testdata/parse.json: an English rule, the
// default zone ("UTC" when absent), and either the rule JSON Parse must
// give or a fragment of the error it must give. Note says where the vector
// comes from and, for the reference's quirks, what alf does differently.
type parseCase struct {
	In    string          `json:"in"`
	Zone  *string         `json:"zone"`
	Want  json.RawMessage `json:"want"`
	Error string          `json:"error"`
	Note  string          `json:"note"`
}

func loadParseCases(t testing.TB) []parseCase {
	t.Helper()
	data, err := os.ReadFile("testdata/parse.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []parseCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("testdata/parse.json: %v", err)
	}
	return cases
}

func (c parseCase) zone() string {
	if c.Zone == nil {
		return "UTC"
	}
	return *c.Zone
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range loadParseCases(t) {
		t.Run(tc.In, func(t *testing.T) {
			t.Parallel()
			got, err := english.Parse(tc.In, tc.zone())
			if tc.Error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.Error) {
					t.Fatalf("Parse(%q) = %s, %v; want error containing %q (%s)", tc.In, got, err, tc.Error, tc.Note)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v (%s)", tc.In, err, tc.Note)
			}
			if !sameJSON(t, got, tc.Want) {
				t.Errorf("Parse(%q)\n got %s\nwant %s\n(%s)", tc.In, got, tc.Want, tc.Note)
			}
		})
	}
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// BenchmarkParse parses every input of testdata/parse.json once per
// iteration; BenchmarkFormat says every rule of testdata/format.json.
func BenchmarkParse(b *testing.B) {
	cases := loadParseCases(b)
	for b.Loop() {
		for _, tc := range cases {
			_, _ = english.Parse(tc.In, tc.zone())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cases)), "ns/rule")
}

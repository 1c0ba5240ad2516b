package bench_test

import (
	"testing"
	"time"
)

// Percentiles are nearest-rank: p99 of 100 samples is the 99th smallest.
func TestSummarize(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // unsorted
	}
	tests := []struct {
		name    string
		samples []time.Duration
		want    summary
	}{
		{"none", nil, summary{}},
		{"one", []time.Duration{3}, summary{n: 1, p50: 3, p99: 3, max: 3}},
		{"two", []time.Duration{9, 1}, summary{n: 2, p50: 1, p99: 9, max: 9}},
		{"hundred", hundred, summary{n: 100, p50: 50 * time.Millisecond, p99: 99 * time.Millisecond, max: 100 * time.Millisecond}},
		{"negative lateness", []time.Duration{-2, 5, -1}, summary{n: 3, p50: -1, p99: 5, max: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := summarize(tt.samples); got != tt.want {
				t.Fatalf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// benchDID gives distinct, well-formed did:plc identifiers.
func TestBenchDID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := range 1000 {
		d := benchDID(i)
		if len(d) != len("did:plc:")+24 || seen[d] {
			t.Fatalf("benchDID(%d) = %s", i, d)
		}
		seen[d] = true
	}
}

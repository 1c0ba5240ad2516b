package lexicon

import "testing"

func TestJSInt32(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"50", 50},
		{" 7 ", 7},
		{"+3", 3},
		{"-4", -4},
		{"12.9", 12},
		{"-12.9", -12},
		{".5", 0},
		{"1e2", 100},
		{"1E-2", 0},
		{"0x1F", 31},
		{"0b101", 5},
		{"0o17", 15},
		{"0x", 0},
		{"-0x10", 0},
		{"abc", 0},
		{"5abc", 0},
		{"Infinity", 0},
		{"-Infinity", 0},
		{"NaN", 0},
		{"2147483647", 2147483647},
		{"2147483648", -2147483648},
		{"4294967297", 1},
		{"-4294967297", -1},
		{"1e400", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := jsInt32(tt.in); got != tt.want {
				t.Fatalf("jsInt32(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

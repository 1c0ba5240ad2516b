package record_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/record"
)

func TestWithCreatedAt(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name, in, want string
		t              time.Time
	}{
		{
			name: "replaced in place",
			in:   `{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00.000Z","langs":["en"]}`,
			want: `{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-03-01T09:00:00.000Z","langs":["en"]}`,
			t:    at,
		},
		{
			name: "$bytes and big integers untouched",
			in:   `{"b":{"$bytes":"AQID"},"n":9007199254740993,"createdAt":"x","f":1.50}`,
			want: `{"b":{"$bytes":"AQID"},"n":9007199254740993,"createdAt":"2026-03-01T09:00:00.000Z","f":1.50}`,
			t:    at,
		},
		{
			name: "whitespace and escapes kept",
			in:   "{\n  \"text\": \"caf\\u00e9 <b>\",\n  \"createdAt\" :  null\n}\n",
			want: "{\n  \"text\": \"caf\\u00e9 <b>\",\n  \"createdAt\" :  \"2026-03-01T09:00:00.000Z\"\n}\n",
			t:    at,
		},
		{
			name: "converted to UTC with milliseconds",
			in:   `{"createdAt":""}`,
			want: `{"createdAt":"2026-03-01T08:00:00.123Z"}`,
			t:    time.Date(2026, 3, 1, 9, 0, 0, 123456789, paris),
		},
		{
			name: "nested createdAt is not top level",
			in:   `{"embed":{"createdAt":"old"},"createdAt":{"odd":[1]}}`,
			want: `{"embed":{"createdAt":"old"},"createdAt":"2026-03-01T09:00:00.000Z"}`,
			t:    at,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := record.WithCreatedAt([]byte(tc.in), tc.t)
			if err != nil {
				t.Fatalf("WithCreatedAt: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestWithCreatedAtAbsent(t *testing.T) {
	t.Parallel()
	in := []byte(`{"$type":"app.bsky.actor.profile", "displayName":"x","n":1.0}`)
	got, err := record.WithCreatedAt(in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, in) {
		t.Errorf("record without createdAt changed: %s", got)
	}
}

func TestWithCreatedAtKeepsCIDOfOtherFields(t *testing.T) {
	t.Parallel()
	in := []byte(`{"b":{"$bytes":"AAEC/w"},"n":9007199254740993,"createdAt":"2024-01-01T00:00:00.000Z"}`)
	at, _ := time.Parse(time.RFC3339, "2024-01-01T00:00:00Z")
	got, err := record.WithCreatedAt(in, at)
	if err != nil {
		t.Fatal(err)
	}
	before, err1 := record.CID(in)
	after, err2 := record.CID(got)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if before != after {
		t.Errorf("same instant, different CID: %s → %s (%s)", before, after, got)
	}
}

func TestWithCreatedAtInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `[]`, `"x"`, `{"createdAt":}`, `{"a":1}x`, `{"a":1`} {
		if _, err := record.WithCreatedAt([]byte(in), time.Now()); !errors.Is(err, record.ErrInvalid) {
			t.Errorf("WithCreatedAt(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func ExampleWithCreatedAt() {
	in := []byte(`{"text":"hi","createdAt":"2024-01-01T00:00:00.000Z"}`)
	out, err := record.WithCreatedAt(in, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))
	// Output: {"text":"hi","createdAt":"2026-03-01T09:00:00.000Z"}
}

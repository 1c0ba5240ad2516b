package record_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/record"
)

// FuzzWithCreatedAt checks, for any JSON object, that WithCreatedAt sets
// createdAt (only where the object had it) and changes nothing else.
func FuzzWithCreatedAt(f *testing.F) {
	for _, seed := range []string{
		`{"text":"hi","createdAt":"2000-01-01T00:00:00Z"}`,
		` { "a" : [1, {"createdAt": 1}], "createdAt" : null , "b":"\"}\\" } `,
		`{"created\u0041t":"x","n":-1.5e3,"t":true,"f":false,"z":null}`,
		`{"x":{"$bytes":"AQID"},"y":{"$link":"bafkreiadsbmmn4waznesyuz3bjgrj33xzqhxrk6mz3ksq7meugrachh3qe"}}`,
		`{}`,
		`[]`,
		`{"a":`,
	} {
		f.Add([]byte(seed))
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in []byte) {
		var before map[string]any
		isObject := json.Unmarshal(in, &before) == nil && before != nil
		out, err := record.WithCreatedAt(in, at)
		if !isObject {
			if err == nil {
				t.Fatalf("WithCreatedAt accepted %q, which is not a JSON object", in)
			}
			return
		}
		if err != nil {
			t.Fatalf("WithCreatedAt(%q): %v", in, err)
		}
		var after map[string]any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("output %q is not JSON: %v", out, err)
		}
		if _, had := before["createdAt"]; had {
			if after["createdAt"] != "2026-03-01T09:00:00.000Z" {
				t.Fatalf("createdAt = %v in %q", after["createdAt"], out)
			}
			delete(before, "createdAt")
			delete(after, "createdAt")
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("other fields changed:\nin  %q\nout %q", in, out)
		}
	})
}

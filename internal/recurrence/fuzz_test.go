package recurrence

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzParse decodes arbitrary rule JSON: Parse never panics, rejects with a
// *FieldError, and an accepted rule re-encodes to JSON that parses to the
// same rule and yields ordered occurrences strictly after the query.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"rule":{"type":"daily","time":{"type":"wall_time","hour":9,"minute":0,"timezone":"UTC"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			return
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		r2, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-Parse %s: %v", enc, err)
		}
		enc2, _ := json.Marshal(r2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable: %s then %s", enc, enc2)
		}
		after := time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)
		r.Anchor = after.Add(-48 * time.Hour)
		prev := after
		for _, o := range r.Occurrences(after, 4) {
			if !o.At.After(prev) {
				t.Fatalf("occurrence %s not after %s", o.At, prev)
			}
			prev = o.At
		}
	})
}

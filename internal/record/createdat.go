package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// TimeFormat is how WithCreatedAt writes instants: RFC 3339, UTC,
// milliseconds, "Z".
const TimeFormat = "2006-01-02T15:04:05.000Z"

// WithCreatedAt sets the value of the record's top-level "createdAt" key to
// t and leaves every other byte of the input as it was. A record without
// createdAt is returned unchanged: alf adds no fields to a user's record.
func WithCreatedAt(recordJSON []byte, t time.Time) ([]byte, error) {
	spans, err := topLevelValues(recordJSON, "createdAt")
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return recordJSON, nil
	}
	stamp, _ := json.Marshal(t.UTC().Format(TimeFormat))
	var out bytes.Buffer
	last := 0
	for _, s := range spans {
		out.Write(recordJSON[last:s.start])
		out.Write(stamp)
		last = s.end
	}
	out.Write(recordJSON[last:])
	return out.Bytes(), nil
}

type span struct{ start, end int }

// topLevelValues returns the byte spans of the values of key in the
// top-level JSON object, in order.
func topLevelValues(b []byte, key string) ([]span, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: top level is not a JSON object", ErrInvalid)
	}
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if tok == key {
			end := int(dec.InputOffset())
			spans = append(spans, span{end - len(val), end})
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return spans, nil
}

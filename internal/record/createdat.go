package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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
// top-level JSON object, in order. It checks the JSON with json.Valid (no
// allocation) and then walks the top level by hand: this runs once per
// publish attempt, and a json.Decoder walk cost several times more.
func topLevelValues(b []byte, key string) ([]span, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("%w: not valid JSON", ErrInvalid)
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return nil, fmt.Errorf("%w: top level is not a JSON object", ErrInvalid)
	}
	var spans []span
	i = skipSpace(b, i+1)
	for b[i] != '}' {
		kEnd := skipString(b, i)
		name := b[i:kEnd]
		i = skipSpace(b, skipSpace(b, kEnd)+1) // past ':'
		vEnd := skipValue(b, i)
		if keyIs(name, key) {
			spans = append(spans, span{i, vEnd})
		}
		i = skipSpace(b, vEnd)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return spans, nil
}

// The helpers below walk JSON already known to be valid.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
		i++
	}
	return i
}

// keyIs reports whether the quoted key name (with its quotes) is key.
func keyIs(name []byte, key string) bool {
	if bytes.IndexByte(name, '\\') < 0 {
		return string(name[1:len(name)-1]) == key
	}
	var s string
	return json.Unmarshal(name, &s) == nil && s == key
}

package lexicon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
)

// Input validates the body of a call to nsid, given the request's
// Content-Type header. For a JSON procedure it returns the decoded body
// (numbers as json.Number, {"$link"}/{"$bytes"} objects untouched, absent
// defaulted fields filled in); for a procedure with a raw body
// (com.atproto.repo.uploadBlob) and for queries it returns nil. The checks
// run in the reference's order: a body where none is expected, a missing
// body, the Content-Type, then the schema (messages such as
// `Input must have the property "collection"` or
// "Input/rkey must be a valid Record Key"). Fields the lexicon does not
// declare are allowed and kept. Every error is a 400 InvalidRequest, or a
// 501 for an unknown NSID.
func (c *Catalog) Input(nsid string, contentType string, body []byte) (map[string]any, error) {
	m, ok := c.methods[nsid]
	if !ok {
		return nil, NotImplemented()
	}
	hasBody := len(body) > 0
	switch {
	case hasBody && (m.Kind != KindProcedure || m.input == nil):
		return nil, invalidRequest("A request body was provided when none was expected")
	case m.Kind == KindQuery || m.input == nil:
		return nil, nil
	case !hasBody:
		return nil, invalidRequest("A request body is expected but none was provided")
	}
	if err := checkEncoding(m.input.Encoding, contentType); err != nil {
		return nil, err
	}
	if m.input.Schema == nil {
		return nil, nil
	}
	val, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	if err := c.check("Input", nsid+"#/defs/main/input/schema", m.input.Schema.Inner, val); err != nil {
		return nil, err
	}
	obj, ok := val.(map[string]any)
	if !ok {
		return nil, invalidRequest("Input must be an object")
	}
	return obj, nil
}

func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, invalidRequest("Input must be valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidRequest("Input must be valid JSON")
	}
	return v, nil
}

// checkEncoding compares a Content-Type with a lexicon encoding, a
// comma-separated list of media types where */* accepts anything.
func checkEncoding(encoding, contentType string) error {
	if encoding == "" {
		return nil
	}
	ct := mediaType(contentType)
	if ct == "" {
		return invalidRequest("Request encoding (Content-Type) required but not provided")
	}
	for _, want := range strings.Split(encoding, ",") {
		want = strings.ToLower(strings.TrimSpace(want))
		if want == "*/*" || want == ct {
			return nil
		}
	}
	return invalidRequest("Wrong request encoding (Content-Type): %s", ct)
}

// mediaType reduces a Content-Type header to its lower-case media type
// ("application/json; charset=utf-8" → "application/json"). A bare
// extension such as "json" is looked up; anything else unusable gives "".
func mediaType(contentType string) string {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" || strings.Contains(ct, "/") {
		return ct
	}
	t, _, _ := strings.Cut(mime.TypeByExtension("."+ct), ";")
	return strings.TrimSpace(t)
}

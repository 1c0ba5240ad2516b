package lexicon

import (
	"errors"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	lex "github.com/bluesky-social/indigo/atproto/lexicon"
)

// Params decodes and validates the query parameters of a call to nsid.
// Only parameters the lexicon declares are kept; strings stay strings,
// integers become int64 and booleans bool (arrays: []any of those), and
// absent parameters with a default get it. Values are coerced as the
// reference does: an empty value counts as absent, a repeated scalar is
// joined with commas, an integer is read like JavaScript's Number(v)|0 (so
// "abc" is 0 and "12.7" is 12), a boolean is true only for "true".
//
// Errors are 400 InvalidRequest with messages prefixed "Error: "
// ("Error: limit can not be less than 1"), or 501 for an unknown NSID.
func (c *Catalog) Params(nsid string, q url.Values) (map[string]any, error) {
	m, ok := c.methods[nsid]
	if !ok {
		return nil, NotImplemented()
	}
	out := map[string]any{}
	if m.params == nil {
		return out, nil
	}
	loc := nsid + "#/defs/main/parameters"
	keys := c.keys(loc+"/properties", m.params.Properties)
	for _, k := range keys {
		if v, ok := decodeParam(m.params.Properties[k].Inner, q[k]); ok {
			out[k] = v
		}
	}
	for _, k := range m.params.Required {
		if _, ok := out[k]; !ok {
			return nil, invalidRequest(`Error: Params must have the property "%s"`, k)
		}
	}
	for _, k := range keys {
		def := m.params.Properties[k].Inner
		v, ok := out[k]
		if !ok {
			if d, ok := paramDefault(def); ok {
				out[k] = d
			}
			continue
		}
		if err := c.check(k, loc+"/properties/"+k, def, v); err != nil {
			return nil, withErrorPrefix(err)
		}
	}
	return out, nil
}

func withErrorPrefix(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Status: e.Status, Name: e.Name, Message: "Error: " + e.Message}
	}
	return err
}

func decodeParam(def any, vals []string) (any, bool) {
	if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return nil, false
	}
	arr, ok := def.(lex.SchemaArray)
	if !ok {
		return decodeScalar(def, vals)
	}
	items := []any{}
	for _, v := range vals {
		if item, ok := decodeScalar(arr.Items.Inner, []string{v}); ok {
			items = append(items, item)
		}
	}
	return items, true
}

func decodeScalar(def any, vals []string) (any, bool) {
	raw := strings.Join(vals, ",") // JavaScript's String(array)
	if raw == "" {
		return nil, false
	}
	switch def.(type) {
	case lex.SchemaInteger:
		return jsInt32(raw), true
	case lex.SchemaBoolean:
		return len(vals) == 1 && raw == "true", true
	}
	return raw, true
}

func paramDefault(def any) (any, bool) {
	switch d := def.(type) {
	case lex.SchemaInteger:
		if d.Default != nil {
			return int64(*d.Default), true
		}
	case lex.SchemaString:
		if d.Default != nil {
			return *d.Default, true
		}
	case lex.SchemaBoolean:
		if d.Default != nil {
			return *d.Default, true
		}
	}
	return nil, false
}

// jsInt32 is JavaScript's Number(s) | 0: NaN and infinities give 0,
// fractions are truncated, and the result wraps to a signed 32-bit integer.
func jsInt32(s string) int64 {
	f := jsNumber(s)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	m := math.Mod(math.Trunc(f), 1<<32)
	if m < 0 {
		m += 1 << 32
	}
	return int64(int32(uint32(m)))
}

var decimalNumber = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// jsNumber is JavaScript's Number(s) for a string.
func jsNumber(s string) float64 {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return 0
	case decimalNumber.MatchString(s):
		f, _ := strconv.ParseFloat(s, 64) // overflow gives ±Inf, as in JavaScript
		return f
	case s == "Infinity" || s == "+Infinity":
		return math.Inf(1)
	case s == "-Infinity":
		return math.Inf(-1)
	}
	return radixNumber(s)
}

// radixNumber reads the 0x, 0o and 0b forms JavaScript's Number accepts.
func radixNumber(s string) float64 {
	bases := map[string]int{"0x": 16, "0o": 8, "0b": 2}
	if len(s) < 3 {
		return math.NaN()
	}
	base, ok := bases[strings.ToLower(s[:2])]
	if !ok {
		return math.NaN()
	}
	n, ok := new(big.Int).SetString(s[2:], base)
	if !ok || n.Sign() < 0 || strings.ContainsAny(s[2:], "+-_") {
		return math.NaN()
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	return f
}

package lexicon

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/bluesky-social/indigo/atproto/atdata"
	lex "github.com/bluesky-social/indigo/atproto/lexicon"
)

// check validates val, found at data path path ("Input/writes/0"), against
// def, the schema at location loc ("nsid#/defs/main/input/schema"). It
// returns the first violation, worded as the reference words it. Objects
// get their missing defaulted fields filled in.
func (c *Catalog) check(path, loc string, def, val any) error {
	switch d := def.(type) {
	case lex.SchemaObject:
		return c.checkObject(path, loc, d, val)
	case lex.SchemaArray:
		return c.checkArray(path, loc, d, val)
	case lex.SchemaUnion:
		return c.checkUnion(path, loc, d, val)
	case lex.SchemaRef:
		return c.checkRef(path, fullRef(baseOf(loc), d.Ref), val)
	case lex.SchemaString:
		return checkString(path, d, val)
	case lex.SchemaInteger:
		return checkInteger(path, d, val)
	case lex.SchemaBoolean:
		return checkBoolean(path, d, val)
	case lex.SchemaUnknown:
		if d.Validate(val) != nil {
			return invalidRequest("%s must be an object", path)
		}
		return nil
	default:
		return checkDataModel(path, def, val)
	}
}

func (c *Catalog) checkRef(path, ref string, val any) error {
	s, err := c.schemas.Resolve(ref)
	if err != nil { // not reached: New resolves every ref
		return invalidRequest("%s refers to an unknown lexicon definition", path)
	}
	return c.check(path, defLocation(ref), s.Def, val)
}

func (c *Catalog) checkObject(path, loc string, d lex.SchemaObject, val any) error {
	obj, ok := val.(map[string]any)
	if !ok {
		return invalidRequest("%s must be an object", path)
	}
	for _, key := range c.keys(loc+"/properties", d.Properties) {
		v, present := obj[key]
		if present && v == nil && d.IsNullable(key) {
			continue
		}
		if !present {
			if slices.Contains(d.Required, key) {
				return invalidRequest(`%s must have the property "%s"`, path, key)
			}
			if def, ok := defaultOf(d.Properties[key].Inner); ok {
				obj[key] = def
			}
			continue
		}
		if err := c.check(path+"/"+key, loc+"/properties/"+key, d.Properties[key].Inner, v); err != nil {
			return err
		}
	}
	return nil
}

// defaultOf is the value an absent object field takes, as it would have been decoded from JSON.
func defaultOf(def any) (any, bool) {
	switch d := def.(type) {
	case lex.SchemaInteger:
		if d.Default != nil {
			return json.Number(strconv.Itoa(*d.Default)), true
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

func (c *Catalog) checkArray(path, loc string, d lex.SchemaArray, val any) error {
	arr, ok := val.([]any)
	if !ok {
		return invalidRequest("%s must be an array", path)
	}
	if d.MaxLength != nil && len(arr) > *d.MaxLength {
		return invalidRequest("%s must not have more than %d elements", path, *d.MaxLength)
	}
	if d.MinLength != nil && len(arr) < *d.MinLength {
		return invalidRequest("%s must not have fewer than %d elements", path, *d.MinLength)
	}
	for i, item := range arr {
		if err := c.check(path+"/"+strconv.Itoa(i), loc+"/items", d.Items.Inner, item); err != nil {
			return err
		}
	}
	return nil
}

// checkUnion validates a union member against the member its $type names.
// A $type outside the union passes an open union and fails a closed one.
func (c *Catalog) checkUnion(path, loc string, d lex.SchemaUnion, val any) error {
	obj, _ := val.(map[string]any)
	t, ok := obj["$type"].(string)
	if !ok {
		return invalidRequest(`%s must be an object which includes the "$type" property`, path)
	}
	want := fullRef("", t)
	refs := make([]string, len(d.Refs))
	for i, r := range d.Refs {
		refs[i] = fullRef(baseOf(loc), r)
		if refs[i] == want {
			return c.checkRef(path, want, val)
		}
	}
	if d.Closed != nil && *d.Closed {
		return invalidRequest("%s $type must be one of %s", path, strings.Join(refs, ", "))
	}
	return nil
}

func checkString(path string, d lex.SchemaString, val any) error {
	s, ok := val.(string)
	switch {
	case !ok:
		return invalidRequest("%s must be a string", path)
	case d.Const != nil && s != *d.Const:
		return invalidRequest("%s must be %s", path, *d.Const)
	case len(d.Enum) > 0 && !slices.Contains(d.Enum, s):
		return invalidRequest("%s must be one of (%s)", path, strings.Join(d.Enum, "|"))
	case d.MaxLength != nil && len(s) > *d.MaxLength: // UTF-8 bytes, as the reference counts
		return invalidRequest("%s must not be longer than %d characters", path, *d.MaxLength)
	case d.MinLength != nil && len(s) < *d.MinLength:
		return invalidRequest("%s must not be shorter than %d characters", path, *d.MinLength)
	}
	if err := checkGraphemes(path, d, s); err != nil {
		return err
	}
	if d.Format == nil {
		return nil
	}
	// indigo's syntax parsers decide the format; datetimes without an offset
	// are accepted, as the reference accepts them.
	f := lex.SchemaString{Type: "string", Format: d.Format}
	if f.Validate(s, lex.AllowLenientDatetime) != nil {
		return invalidRequest("%s %s", path, formatMessages[*d.Format])
	}
	return nil
}

func checkGraphemes(path string, d lex.SchemaString, s string) error {
	if d.MaxGraphemes != nil {
		g := lex.SchemaString{Type: "string", MaxGraphemes: d.MaxGraphemes}
		if g.Validate(s, 0) != nil {
			return invalidRequest("%s must not be longer than %d graphemes", path, *d.MaxGraphemes)
		}
	}
	if d.MinGraphemes != nil {
		g := lex.SchemaString{Type: "string", MinGraphemes: d.MinGraphemes}
		if g.Validate(s, 0) != nil {
			return invalidRequest("%s must not be shorter than %d graphemes", path, *d.MinGraphemes)
		}
	}
	return nil
}

// formatMessages completes "<path> …" for a string that fails its format.
var formatMessages = map[string]string{
	"at-identifier": "must be a valid did or a handle",
	"at-uri":        "must be a valid at-uri",
	"cid":           "must be a cid string",
	"datetime":      "must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
	"did":           "must be a valid did",
	"handle":        "must be a valid handle",
	"language":      "must be a well-formed BCP 47 language tag",
	"nsid":          "must be a valid nsid",
	"record-key":    "must be a valid Record Key",
	"tid":           "must be a valid TID",
	"uri":           "must be a uri",
}

func checkInteger(path string, d lex.SchemaInteger, val any) error {
	n, ok := toNumber(val)
	switch {
	case !ok:
		return invalidRequest("%s must be an integer", path)
	case d.Const != nil && !n.equals(*d.Const):
		return invalidRequest("%s must be %d", path, *d.Const)
	case len(d.Enum) > 0 && !slices.ContainsFunc(d.Enum, n.equals):
		return invalidRequest("%s must be one of (%s)", path, joinInts(d.Enum))
	case d.Maximum != nil && n.cmp(*d.Maximum) > 0:
		return invalidRequest("%s can not be greater than %d", path, *d.Maximum)
	case d.Minimum != nil && n.cmp(*d.Minimum) < 0:
		return invalidRequest("%s can not be less than %d", path, *d.Minimum)
	case !n.whole:
		return invalidRequest("%s must be an integer", path)
	}
	return nil
}

// number is a decoded JSON number: exact when whole, a float otherwise.
type number struct {
	i     int64
	f     float64
	whole bool
}

func toNumber(val any) (number, bool) {
	switch v := val.(type) {
	case int64:
		return number{i: v, whole: true}, true
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return number{i: i, whole: true}, true
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !math.IsInf(f, 0) {
			return number{}, false
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return number{i: int64(f), whole: true}, true
		}
		return number{f: f}, true
	}
	return number{}, false
}

func (n number) cmp(limit int) int {
	if n.whole {
		return cmpOrdered(n.i, int64(limit))
	}
	return cmpOrdered(n.f, float64(limit))
}

func (n number) equals(v int) bool { return n.cmp(v) == 0 }

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, "|")
}

func checkBoolean(path string, d lex.SchemaBoolean, val any) error {
	b, ok := val.(bool)
	if !ok {
		return invalidRequest("%s must be a boolean", path)
	}
	if d.Const != nil && b != *d.Const {
		return invalidRequest("%s must be %t", path, *d.Const)
	}
	return nil
}

// checkDataModel checks blob, bytes and cid-link fields by decoding their
// JSON form with indigo's atdata types; the value itself is left as it is.
func checkDataModel(path string, def, val any) error {
	raw, err := json.Marshal(val)
	if err != nil {
		return invalidRequest("%s is not valid JSON data", path)
	}
	switch d := def.(type) {
	case lex.SchemaCIDLink:
		var l atdata.CIDLink
		if json.Unmarshal(raw, &l) != nil {
			return invalidRequest("%s must be a CID", path)
		}
	case lex.SchemaBytes:
		var b atdata.Bytes
		if json.Unmarshal(raw, &b) != nil {
			return invalidRequest("%s must be a byte array", path)
		}
		if d.MaxLength != nil && len(b) > *d.MaxLength {
			return invalidRequest("%s must not be larger than %d bytes", path, *d.MaxLength)
		}
		if d.MinLength != nil && len(b) < *d.MinLength {
			return invalidRequest("%s must not be smaller than %d bytes", path, *d.MinLength)
		}
	case lex.SchemaBlob:
		var b atdata.Blob
		shape := lex.SchemaBlob{Type: "blob"} // rejects legacy (untyped) blobs
		if json.Unmarshal(raw, &b) != nil || !b.Ref.IsDefined() || b.MimeType == "" || shape.Validate(b, 0) != nil {
			return invalidRequest("%s should be a blob ref", path)
		}
	default:
		return invalidRequest("%s has a lexicon type alf cannot validate", path)
	}
	return nil
}

package record

// Check answers, when a draft is made, whether the PDS will certainly refuse
// the record. It knows the atproto data model, $type, and the shape and
// limits of app.bsky.feed.post and app.bsky.actor.profile.
//
// The shape comes from indigo's generated api/bsky types, read by
// reflection: every struct field with a json tag is a lexicon property, a
// field without ",omitempty" is a required one (lexgen writes omitempty for
// exactly the optional properties; none here is nullable), and a struct of
// untagged pointer fields is a union whose members carry their $type in the
// cborgen "const=" tag. The lexicons' limits and string formats, which the
// generated types do not carry, are in the rules table below. The JSON
// lexicons ship in indigo's module but not in any Go package, so they
// cannot be embedded in alf's binary; the tests check this file against them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/api/bsky"
	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/syntax"
	lexutil "github.com/bluesky-social/indigo/lex/util"
	"github.com/rivo/uniseg"
)

// Check validates a record for a collection: the atproto data model (as
// Validate), $type (if present) equal to collection, and for the Bluesky
// collections alf knows, the lexicon's shape and limits. A nil error means
// alf cannot tell it is invalid. Errors wrap ErrInvalid and read well in an
// API answer, e.g. `record/text: 301 graphemes, at most 300`.
func Check(collection string, recordJSON []byte) error {
	obj, err := parse(recordJSON)
	if err != nil {
		return err
	}
	return check(collection, obj)
}

// Prepare is what alf does with a record a client sends: Check it, compact
// its JSON (values, $bytes included, stay byte for byte) and compute its
// CID, parsing it once.
func Prepare(collection string, recordJSON []byte) (compact []byte, cid string, err error) {
	var b bytes.Buffer
	if err := json.Compact(&b, recordJSON); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	obj, err := parse(b.Bytes())
	if err != nil {
		return nil, "", err
	}
	if err := check(collection, obj); err != nil {
		return nil, "", err
	}
	if cid, err = cidOf(obj); err != nil {
		return nil, "", err
	}
	return b.Bytes(), cid, nil
}

func check(collection string, obj map[string]any) error {
	if _, err := syntax.ParseNSID(collection); err != nil {
		return fmt.Errorf("%w: collection %q is not an NSID: %v", ErrInvalid, collection, err)
	}
	if t, ok := obj["$type"]; ok && t != collection {
		return invalid("record/$type", "%q, but the collection is %s", t, collection)
	}
	schema, ok := schemas[collection]
	if !ok {
		return nil
	}
	return checkValue(schema, obj, "record")
}

// schemas are the collections whose records Check knows in full.
var schemas = map[string]reflect.Type{
	"app.bsky.feed.post":     reflect.TypeFor[bsky.FeedPost](),
	"app.bsky.actor.profile": reflect.TypeFor[bsky.ActorProfile](),
}

func invalid(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, args...))
}

var (
	blobType = reflect.TypeFor[lexutil.LexBlob]()
	linkType = reflect.TypeFor[lexutil.LexLink]()
)

// checkValue checks that v, a value of the data model as parse returns it,
// has the shape of the generated type t.
func checkValue(t reflect.Type, v any, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == blobType:
		return checkBlob(v, path)
	case t == linkType:
		return expect[atdata.CIDLink](v, path, "a link")
	case t.Kind() == reflect.String:
		return expect[string](v, path, "a string")
	case t.Kind() == reflect.Int64:
		return expect[int64](v, path, "an integer")
	case t.Kind() == reflect.Bool:
		return expect[bool](v, path, "a boolean")
	case t.Kind() == reflect.Slice:
		return checkArray(t.Elem(), v, path)
	case isUnion(t):
		return checkUnion(t, v, path)
	case t.Kind() == reflect.Struct:
		return checkObject(t, v, path)
	}
	return nil
}

func expect[T any](v any, path, want string) error {
	if _, ok := v.(T); !ok {
		return invalid(path, "expected %s, got %s", want, kind(v))
	}
	return nil
}

// kind names a data-model value for an error message.
func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case int64:
		return "an integer"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case atdata.CIDLink:
		return "a link"
	case atdata.Bytes:
		return "bytes"
	case map[string]any:
		if v["$type"] == "blob" {
			return "a blob"
		}
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func checkArray(elem reflect.Type, v any, path string) error {
	arr, ok := v.([]any)
	if !ok {
		return invalid(path, "expected an array, got %s", kind(v))
	}
	for i, e := range arr {
		if err := checkValue(elem, e, path+"/"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

// checkObject checks the required properties and every property present,
// in the generated type's field order, then the property's rule if it has
// one. Properties the type does not know are allowed, as in a lexicon.
func checkObject(t reflect.Type, v any, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return invalid(path, "expected an object, got %s", kind(v))
	}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "$type" {
			continue
		}
		p := path + "/" + name
		fv, present := m[name]
		if !present {
			if !strings.Contains(opts, "omitempty") {
				return invalid(p, "required")
			}
			continue
		}
		if err := checkValue(f.Type, fv, p); err != nil {
			return err
		}
		if r, ok := rules[property{t, name}]; ok {
			if err := r.check(fv, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// isUnion reports whether t is a generated union: a struct of untagged
// pointers to the member types.
func isUnion(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || t.NumField() == 0 {
		return false
	}
	for f := range t.Fields() {
		if f.Tag.Get("json") != "" || f.Type.Kind() != reflect.Pointer || unionType(f.Type.Elem()) == "" {
			return false
		}
	}
	return true
}

// unionType returns the $type of a generated union member, from its
// LexiconTypeID field's `cborgen:"$type,const=…"` tag.
func unionType(member reflect.Type) string {
	if member.Kind() != reflect.Struct {
		return ""
	}
	f, ok := member.FieldByName("LexiconTypeID")
	if !ok {
		return ""
	}
	_, c, _ := strings.Cut(f.Tag.Get("cborgen"), "const=")
	c, _, _ = strings.Cut(c, ",")
	return c
}

// checkUnion checks a union value against the member its $type names. The
// Bluesky unions are open: a member of another type is allowed.
func checkUnion(t reflect.Type, v any, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return invalid(path, "expected an object, got %s", kind(v))
	}
	typ, ok := m["$type"].(string)
	if !ok {
		return invalid(path+"/$type", "required")
	}
	for f := range t.Fields() {
		if member := f.Type.Elem(); unionType(member) == typ {
			return checkValue(member, m, path)
		}
	}
	return nil
}

// checkBlob accepts a blob ({"$type":"blob", ref, mimeType, size}, whose
// shape parse has checked) and refuses anything else, legacy blobs included.
func checkBlob(v any, path string) error {
	m, ok := v.(map[string]any)
	switch {
	case ok && m["$type"] == "blob":
		return nil
	case ok && len(m) == 2 && m["cid"] != nil && m["mimeType"] != nil:
		return invalid(path, `legacy blob {"cid", "mimeType"}; expected {"$type": "blob", "ref", "mimeType", "size"}`)
	}
	return invalid(path, "expected a blob, got %s", kind(v))
}

// property names a property of a generated type.
type property struct {
	owner reflect.Type
	name  string
}

func on[T any](name string) property { return property{reflect.TypeFor[T](), name} }

// rules are the app.bsky and com.atproto lexicons' limits and formats on
// the properties reachable from the records in schemas. Lengths are UTF-8
// bytes (the lexicons' maxLength) and grapheme clusters (maxGraphemes).
var rules = map[property]rule{
	on[bsky.FeedPost]("text"):      {maxBytes: 3000, maxGraphemes: 300},
	on[bsky.FeedPost]("langs"):     {maxItems: 3, format: language},
	on[bsky.FeedPost]("tags"):      {maxItems: 8, maxBytes: 640, maxGraphemes: 64},
	on[bsky.FeedPost]("createdAt"): {format: datetime},

	on[bsky.FeedPost_TextSlice]("start"): {minimum: new(int64(0))},
	on[bsky.FeedPost_TextSlice]("end"):   {minimum: new(int64(0))},

	on[bsky.RichtextFacet_ByteSlice]("byteStart"): {minimum: new(int64(0))},
	on[bsky.RichtextFacet_ByteSlice]("byteEnd"):   {minimum: new(int64(0))},
	on[bsky.RichtextFacet_Mention]("did"):         {format: did},
	on[bsky.RichtextFacet_Link]("uri"):            {format: uri},
	on[bsky.RichtextFacet_Tag]("tag"):             {maxBytes: 640, maxGraphemes: 64},

	on[comatproto.RepoStrongRef]("uri"):           {format: atURI},
	on[comatproto.RepoStrongRef]("cid"):           {format: cidString},
	on[comatproto.LabelDefs_SelfLabels]("values"): {maxItems: 10},
	on[comatproto.LabelDefs_SelfLabel]("val"):     {maxBytes: 128},

	on[bsky.EmbedImages]("images"):           {maxItems: 4},
	on[bsky.EmbedImages_Image]("image"):      {accept: []string{"image/*"}, maxSize: 2_000_000},
	on[bsky.EmbedDefs_AspectRatio]("width"):  {minimum: new(int64(1))},
	on[bsky.EmbedDefs_AspectRatio]("height"): {minimum: new(int64(1))},

	on[bsky.EmbedVideo]("video"):         {accept: []string{"video/mp4"}, maxSize: 100_000_000},
	on[bsky.EmbedVideo]("captions"):      {maxItems: 20},
	on[bsky.EmbedVideo]("alt"):           {maxBytes: 10000, maxGraphemes: 1000},
	on[bsky.EmbedVideo_Caption]("lang"):  {format: language},
	on[bsky.EmbedVideo_Caption]("file"):  {accept: []string{"text/vtt"}, maxSize: 20_000},
	on[bsky.EmbedGallery]("items"):       {maxItems: 20},
	on[bsky.EmbedGallery_Image]("image"): {accept: []string{"image/*"}, maxSize: 2_000_000},

	on[bsky.EmbedExternal_External]("uri"):   {format: uri},
	on[bsky.EmbedExternal_External]("thumb"): {accept: []string{"image/*"}, maxSize: 1_000_000},

	on[bsky.ActorProfile]("displayName"): {maxBytes: 640, maxGraphemes: 64},
	on[bsky.ActorProfile]("description"): {maxBytes: 2560, maxGraphemes: 256},
	on[bsky.ActorProfile]("pronouns"):    {maxBytes: 200, maxGraphemes: 20},
	on[bsky.ActorProfile]("website"):     {format: uri},
	on[bsky.ActorProfile]("avatar"):      {accept: []string{"image/png", "image/jpeg"}, maxSize: 1_000_000},
	on[bsky.ActorProfile]("banner"):      {accept: []string{"image/png", "image/jpeg"}, maxSize: 1_000_000},
	on[bsky.ActorProfile]("createdAt"):   {format: datetime},
}

// rule is a lexicon's limits on a property; zero fields are no limit. On an
// array, maxItems applies to the array and the rest to each item.
type rule struct {
	maxItems     int
	maxBytes     int
	maxGraphemes int
	format       format
	minimum      *int64
	accept       []string // blob MIME types; "image/*" accepts any image
	maxSize      int64    // blob bytes
}

// format is a lexicon string format and its parser from atproto/syntax.
type format struct {
	name  string
	parse func(string) error
}

func syntaxFormat[T any](name string, parse func(string) (T, error)) format {
	return format{name, func(s string) error { _, err := parse(s); return err }}
}

var (
	datetime  = syntaxFormat("datetime", syntax.ParseDatetime)
	language  = syntaxFormat("language", syntax.ParseLanguage)
	did       = syntaxFormat("did", syntax.ParseDID)
	uri       = syntaxFormat("uri", syntax.ParseURI)
	atURI     = syntaxFormat("at-uri", syntax.ParseATURI)
	cidString = syntaxFormat("cid", syntax.ParseCID)
)

// check applies the rule to a value that checkValue has accepted.
func (r rule) check(v any, path string) error {
	arr, ok := v.([]any)
	if !ok {
		return r.checkItem(v, path)
	}
	if r.maxItems > 0 && len(arr) > r.maxItems {
		return invalid(path, "%d items, at most %d", len(arr), r.maxItems)
	}
	for i, e := range arr {
		if err := r.checkItem(e, path+"/"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

func (r rule) checkItem(v any, path string) error {
	switch v := v.(type) {
	case string:
		return r.checkString(v, path)
	case int64:
		if r.minimum != nil && v < *r.minimum {
			return invalid(path, "%d, at least %d", v, *r.minimum)
		}
	case map[string]any:
		return r.checkBlob(v, path)
	}
	return nil
}

// checkString counts bytes first: it is cheap and bounds the grapheme count.
func (r rule) checkString(s, path string) error {
	if r.maxBytes > 0 && len(s) > r.maxBytes {
		return invalid(path, "%d bytes, at most %d", len(s), r.maxBytes)
	}
	if r.maxGraphemes > 0 {
		if n := uniseg.GraphemeClusterCount(s); n > r.maxGraphemes {
			return invalid(path, "%d graphemes, at most %d", n, r.maxGraphemes)
		}
	}
	if r.format.parse != nil {
		if err := r.format.parse(s); err != nil {
			return invalid(path, "not a valid %s: %v", r.format.name, err)
		}
	}
	return nil
}

func (r rule) checkBlob(b map[string]any, path string) error {
	mime, _ := b["mimeType"].(string)
	size, _ := b["size"].(int64)
	if len(r.accept) > 0 && !slices.ContainsFunc(r.accept, func(p string) bool { return mimeMatches(p, mime) }) {
		return invalid(path, "mimeType %q, expected %s", mime, strings.Join(r.accept, " or "))
	}
	if r.maxSize > 0 && size > r.maxSize {
		return invalid(path, "blob of %d bytes, at most %d", size, r.maxSize)
	}
	return nil
}

// mimeMatches reports whether mime matches an accept pattern: exact, or
// "type/*" for any subtype.
func mimeMatches(pattern, mime string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return mime != "" && strings.HasPrefix(mime, prefix)
	}
	return pattern == mime
}

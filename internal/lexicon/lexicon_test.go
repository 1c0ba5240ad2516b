package lexicon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latency-fabric/alf/internal/lexicon"
	"github.com/latency-fabric/alf/lexicons"
)

func load(t *testing.T) *lexicon.Catalog {
	t.Helper()
	cat, err := lexicon.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cat
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// wantError checks err is an *Error with the given status, name and message.
func wantError(t *testing.T, err error, status int, name, message string) {
	t.Helper()
	var e *lexicon.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *lexicon.Error %d %s %q", err, status, name, message)
	}
	if e.Status != status || e.Name != name || e.Message != message {
		t.Fatalf("error = %d %s %q, want %d %s %q", e.Status, e.Name, e.Message, status, name, message)
	}
}

// sameJSON compares got, marshalled, with want, both decoded keeping numbers exact.
func sameJSON(t *testing.T, got any, want json.RawMessage) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("marshal %v: %v", got, err)
	}
	if !reflect.DeepEqual(decodeExact(t, b), decodeExact(t, want)) {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func decodeExact(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// lexiconFile is the part of a lexicon document the tests read directly.
type lexiconFile struct {
	ID   string `json:"id"`
	Defs struct {
		Main *struct {
			Type       string `json:"type"`
			Parameters *struct {
				Required []string `json:"required"`
			} `json:"parameters"`
			Input *struct {
				Schema *struct {
					Required []string `json:"required"`
				} `json:"schema"`
			} `json:"input"`
		} `json:"main"`
	} `json:"defs"`
}

func embeddedFiles(t *testing.T) map[string]lexiconFile {
	t.Helper()
	out := map[string]lexiconFile{}
	err := fs.WalkDir(lexicons.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(lexicons.FS(), p)
		if err != nil {
			return err
		}
		var f lexiconFile
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		out[p] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadServesEveryMethod(t *testing.T) {
	t.Parallel()
	want := []lexicon.Method{
		{NSID: "com.atproto.repo.applyWrites", Kind: "procedure"},
		{NSID: "com.atproto.repo.createRecord", Kind: "procedure"},
		{NSID: "com.atproto.repo.deleteRecord", Kind: "procedure"},
		{NSID: "com.atproto.repo.putRecord", Kind: "procedure"},
		{NSID: "com.atproto.repo.uploadBlob", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.createSchedule", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.deletePost", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.deleteSchedule", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.getPost", Kind: "query"},
		{NSID: "town.roundabout.scheduledPosts.getSchedule", Kind: "query"},
		{NSID: "town.roundabout.scheduledPosts.listPosts", Kind: "query"},
		{NSID: "town.roundabout.scheduledPosts.listSchedules", Kind: "query"},
		{NSID: "town.roundabout.scheduledPosts.publishPost", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.retryPost", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.schedulePost", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.unschedulePost", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.updatePost", Kind: "procedure"},
		{NSID: "town.roundabout.scheduledPosts.updateSchedule", Kind: "procedure"},
	}
	cat := load(t)
	if got := cat.Methods(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Methods() = %v, want %v", got, want)
	}
	files := embeddedFiles(t)
	if len(files) != 20 { // 18 methods + the two defs documents
		t.Fatalf("%d lexicon files embedded, want 20", len(files))
	}
	for p, f := range files {
		if f.Defs.Main == nil {
			if !strings.HasSuffix(f.ID, ".defs") {
				t.Errorf("%s: no main definition", p)
			}
			continue
		}
		m, ok := cat.Method(f.ID)
		if !ok || m.Kind != f.Defs.Main.Type {
			t.Errorf("%s: Method(%s) = %v, %v; want kind %s", p, f.ID, m, ok, f.Defs.Main.Type)
		}
	}
}

func TestMethodHTTPVerbs(t *testing.T) {
	t.Parallel()
	cat := load(t)
	tests := []struct {
		nsid, verb string
		message    string // empty: accepted
	}{
		{"town.roundabout.scheduledPosts.listPosts", "GET", ""},
		{"town.roundabout.scheduledPosts.listPosts", "POST", "Incorrect HTTP method (POST) expected GET"},
		{"town.roundabout.scheduledPosts.publishPost", "POST", ""},
		{"town.roundabout.scheduledPosts.publishPost", "GET", "Incorrect HTTP method (GET) expected POST"},
		{"com.atproto.repo.createRecord", "PUT", "Incorrect HTTP method (PUT) expected POST"},
	}
	for _, tt := range tests {
		t.Run(tt.nsid+" "+tt.verb, func(t *testing.T) {
			t.Parallel()
			m, ok := cat.Method(tt.nsid)
			if !ok {
				t.Fatalf("Method(%s) not found", tt.nsid)
			}
			err := m.CheckHTTPMethod(tt.verb)
			if tt.message == "" {
				if err != nil {
					t.Fatalf("CheckHTTPMethod(%s) = %v", tt.verb, err)
				}
				return
			}
			wantError(t, err, 400, "InvalidRequest", tt.message)
		})
	}
}

func TestMethodNotImplemented(t *testing.T) {
	t.Parallel()
	cat := load(t)
	for _, nsid := range []string{"com.atproto.repo.getRecord", "town.roundabout.scheduledPosts.defs", "", "nonsense"} {
		if m, ok := cat.Method(nsid); ok {
			t.Errorf("Method(%q) = %v, want not found", nsid, m)
		}
	}
	wantError(t, lexicon.NotImplemented(), 501, "MethodNotImplemented", "Method Not Implemented")
}

type paramsVector struct {
	Name    string          `json:"name"`
	NSID    string          `json:"nsid"`
	Query   string          `json:"query"`
	Status  int             `json:"status"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Want    json.RawMessage `json:"want"`
}

func TestParams(t *testing.T) {
	t.Parallel()
	cat := load(t)
	var vectors []paramsVector
	readJSON(t, "testdata/params.json", &vectors)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(v.Query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cat.Params(v.NSID, q)
			if v.Status != 0 {
				wantError(t, err, v.Status, v.Error, v.Message)
				return
			}
			if err != nil {
				t.Fatalf("Params: %v", err)
			}
			sameJSON(t, got, v.Want)
		})
	}
}

func TestParamsTypes(t *testing.T) {
	t.Parallel()
	cat := load(t)
	got, err := cat.Params("town.roundabout.scheduledPosts.listPosts", url.Values{"repo": {"did:plc:alice"}, "limit": {"7"}})
	if err != nil {
		t.Fatal(err)
	}
	if got["limit"] != int64(7) || got["repo"] != "did:plc:alice" {
		t.Fatalf("Params = %#v, want limit int64(7) and repo string", got)
	}
}

type validRequest struct {
	Query string         `json:"query"`
	Input map[string]any `json:"input"`
}

// TestRequiredFields takes a valid request for every method, checks it
// passes, then drops each required param or field the lexicon file names.
func TestRequiredFields(t *testing.T) {
	t.Parallel()
	cat := load(t)
	var valid map[string]validRequest
	readJSON(t, "testdata/valid.json", &valid)
	byID := map[string]lexiconFile{}
	for _, f := range embeddedFiles(t) {
		byID[f.ID] = f
	}
	for _, m := range cat.Methods() {
		if m.NSID == "com.atproto.repo.uploadBlob" { // raw body, covered by input.json
			continue
		}
		req, ok := valid[m.NSID]
		if !ok {
			t.Errorf("testdata/valid.json has no request for %s", m.NSID)
			continue
		}
		main := byID[m.NSID].Defs.Main
		t.Run(m.NSID, func(t *testing.T) {
			t.Parallel()
			if m.Kind == lexicon.KindQuery {
				checkRequiredParams(t, cat, m.NSID, req.Query, main.Parameters.Required)
				return
			}
			checkRequiredInput(t, cat, m.NSID, req.Input, main.Input.Schema.Required)
		})
	}
}

func checkRequiredParams(t *testing.T, cat *lexicon.Catalog, nsid, query string, required []string) {
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Params(nsid, q); err != nil {
		t.Fatalf("valid params rejected: %v", err)
	}
	if len(required) == 0 {
		t.Fatal("no required params in the lexicon")
	}
	for _, k := range required {
		without := url.Values{}
		for key, vals := range q {
			if key != k {
				without[key] = vals
			}
		}
		_, err := cat.Params(nsid, without)
		wantError(t, err, 400, "InvalidRequest", `Error: Params must have the property "`+k+`"`)
	}
}

func checkRequiredInput(t *testing.T, cat *lexicon.Catalog, nsid string, input map[string]any, required []string) {
	body, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cat.Input(nsid, "application/json", body)
	if err != nil {
		t.Fatalf("valid input rejected: %v", err)
	}
	sameJSON(t, got, body)
	if len(required) == 0 {
		t.Fatal("no required fields in the lexicon")
	}
	for _, k := range required {
		without := map[string]any{}
		for key, v := range input {
			if key != k {
				without[key] = v
			}
		}
		b, err := json.Marshal(without)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cat.Input(nsid, "application/json", b)
		wantError(t, err, 400, "InvalidRequest", `Input must have the property "`+k+`"`)
	}
}

type inputVector struct {
	Name        string          `json:"name"`
	NSID        string          `json:"nsid"`
	ContentType string          `json:"contentType"`
	Body        json.RawMessage `json:"body"`
	RawBody     *string         `json:"rawBody"`
	Status      int             `json:"status"`
	Error       string          `json:"error"`
	Message     string          `json:"message"`
	Want        json.RawMessage `json:"want"`
}

func (v inputVector) body() []byte {
	if v.RawBody != nil {
		return []byte(*v.RawBody)
	}
	return v.Body
}

func TestInput(t *testing.T) {
	t.Parallel()
	cat := load(t)
	var vectors []inputVector
	readJSON(t, "testdata/input.json", &vectors)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			got, err := cat.Input(v.NSID, v.ContentType, v.body())
			if v.Status != 0 {
				wantError(t, err, v.Status, v.Error, v.Message)
				return
			}
			if err != nil {
				t.Fatalf("Input: %v", err)
			}
			if string(v.Want) == "null" {
				if got != nil {
					t.Fatalf("Input = %v, want nil", got)
				}
				return
			}
			sameJSON(t, got, v.Want)
		})
	}
}

func TestInputKeepsNumbersExact(t *testing.T) {
	t.Parallel()
	cat := load(t)
	body := `{"repo":"did:plc:alice","collection":"app.bsky.feed.post","record":{"n":12345678901234567890123,"f":0.1}}`
	got, err := cat.Input("com.atproto.repo.createRecord", "application/json", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	record := got["record"].(map[string]any)
	if record["n"] != json.Number("12345678901234567890123") || record["f"] != json.Number("0.1") {
		t.Fatalf("record = %#v, want json.Number values as sent", record)
	}
}

func TestNewRejectsBrokenLexicons(t *testing.T) {
	t.Parallel()
	const query = `{"lexicon":1,"id":"com.example.q","defs":{"main":{"type":"query","output":{"encoding":"application/json","schema":%s}}}}`
	tests := []struct {
		name, file, content, wantErr string
	}{
		{"id does not match path", "com/example/other.json", strings.Replace(query, "%s", `{"type":"object","properties":{}}`, 1), "belongs in com/example/q.json"},
		{"unresolved ref", "com/example/q.json", strings.Replace(query, "%s", `{"type":"ref","ref":"#missing"}`, 1), "unresolved ref #missing"},
		{"not JSON", "com/example/q.json", `{"lexicon":1,`, "parse lexicon"},
		{"unsupported version", "com/example/q.json", `{"lexicon":2,"id":"com.example.q","defs":{}}`, "unsupported lexicon language version"},
		{"unknown string format", "com/example/q.json", `{"lexicon":1,"id":"com.example.q","defs":{"s":{"type":"string","format":"colour"}}}`, "unknown string format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lexicon.New(fstest.MapFS{tt.file: {Data: []byte(tt.content)}})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFixtureInput(t *testing.T) {
	t.Parallel()
	cat, err := lexicon.New(os.DirFS("testdata/fixture"))
	if err != nil {
		t.Fatal(err)
	}
	const nsid = "com.example.kitchen"
	tests := []struct {
		name, body, message string // empty message: accepted
	}{
		{"minimal", `{"name":"n"}`, ""},
		{"everything valid", `{"name":"n","count":10,"exact":7,"pick":2,"flag":true,"on":true,"mode":"b","fixed":"x","short":"abcd",
			"emoji":"👍🏽👍","lang":"en-GB","handle":"alice.example.com","tid":"3jzfcijpj2z2a","site":"https://example.com/a",
			"link":{"$link":"bafyreiax32t3heeoeaia4m5ggaa4o5jfzt5xf7gfpg4xg574lxxpwpe77q"},"data":{"$bytes":"AQI"},
			"pic":{"$type":"blob","ref":{"$link":"bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq"},"mimeType":"image/png","size":3},
			"tags":["a","b"],"nested":{"inner":"i"},"thing":{"label":"l"},"open":{"$type":"com.example.other","x":1}}`, ""},
		{"integer as float literal", `{"name":"n","count":2.0}`, ""},
		{"integer above maximum", `{"name":"n","count":11}`, "Input/count can not be greater than 10"},
		{"integer below minimum", `{"name":"n","count":0}`, "Input/count can not be less than 1"},
		{"integer fractional", `{"name":"n","count":2.5}`, "Input/count must be an integer"},
		{"integer a string", `{"name":"n","count":"2"}`, "Input/count must be an integer"},
		{"integer huge", `{"name":"n","count":1e400}`, "Input/count can not be greater than 10"},
		{"integer const", `{"name":"n","exact":8}`, "Input/exact must be 7"},
		{"integer enum", `{"name":"n","pick":4}`, "Input/pick must be one of (1|2|3)"},
		{"boolean const", `{"name":"n","flag":false}`, "Input/flag must be true"},
		{"boolean a string", `{"name":"n","on":"true"}`, "Input/on must be a boolean"},
		{"string enum", `{"name":"n","mode":"c"}`, "Input/mode must be one of (a|b)"},
		{"string const", `{"name":"n","fixed":"y"}`, "Input/fixed must be x"},
		{"string too long", `{"name":"n","short":"abcde"}`, "Input/short must not be longer than 4 characters"},
		{"string length counts UTF-8 bytes", `{"name":"n","short":"éé€"}`, "Input/short must not be longer than 4 characters"},
		{"string too short", `{"name":"n","short":"a"}`, "Input/short must not be shorter than 2 characters"},
		{"too many graphemes", `{"name":"n","emoji":"abc"}`, "Input/emoji must not be longer than 2 graphemes"},
		{"too few graphemes", `{"name":"n","emoji":""}`, "Input/emoji must not be shorter than 1 graphemes"},
		{"language", `{"name":"n","lang":"not a tag"}`, "Input/lang must be a well-formed BCP 47 language tag"},
		{"handle", `{"name":"n","handle":"did:plc:alice"}`, "Input/handle must be a valid handle"},
		{"tid", `{"name":"n","tid":"abc"}`, "Input/tid must be a valid TID"},
		{"uri", `{"name":"n","site":"no scheme"}`, "Input/site must be a uri"},
		{"cid-link", `{"name":"n","link":{"$link":"nope"}}`, "Input/link must be a CID"},
		{"bytes not base64", `{"name":"n","data":{"$bytes":"!!"}}`, "Input/data must be a byte array"},
		{"bytes too long", `{"name":"n","data":{"$bytes":"AQID"}}`, "Input/data must not be larger than 2 bytes"},
		{"blob without ref", `{"name":"n","pic":{"$type":"blob"}}`, "Input/pic should be a blob ref"},
		{"legacy blob", `{"name":"n","pic":{"cid":"bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq","mimeType":"image/png"}}`, "Input/pic should be a blob ref"},
		{"array too long", `{"name":"n","tags":["a","b","c"]}`, "Input/tags must not have more than 2 elements"},
		{"array too short", `{"name":"n","tags":[]}`, "Input/tags must not have fewer than 1 elements"},
		{"array item", `{"name":"n","tags":["a",1]}`, "Input/tags/1 must be a string"},
		{"nested required", `{"name":"n","nested":{}}`, `Input/nested must have the property "inner"`},
		{"ref", `{"name":"n","thing":{"label":5}}`, "Input/thing/label must be a string"},
		{"open union known member", `{"name":"n","open":{"$type":"com.example.kitchen#thing"}}`, `Input/open must have the property "label"`},
		{"open union without $type", `{"name":"n","open":{"label":"l"}}`, `Input/open must be an object which includes the "$type" property`},
		{"missing required", `{"count":1}`, `Input must have the property "name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cat.Input(nsid, "application/json", []byte(tt.body))
			if tt.message != "" {
				wantError(t, err, 400, "InvalidRequest", tt.message)
				return
			}
			if err != nil {
				t.Fatalf("Input: %v", err)
			}
			if _, ok := got["count"]; !ok {
				t.Fatalf("Input = %v, want the default count filled in", got)
			}
		})
	}
}

func TestFixtureDefaults(t *testing.T) {
	t.Parallel()
	cat, err := lexicon.New(os.DirFS("testdata/fixture"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cat.Input("com.example.kitchen", "application/json", []byte(`{"name":"n"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got["count"] != json.Number("3") || got["on"] != false {
		t.Fatalf("Input = %#v, want count 3 and on false filled in", got)
	}
}

func TestFixtureParams(t *testing.T) {
	t.Parallel()
	cat, err := lexicon.New(os.DirFS("testdata/fixture"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query, want, message string
	}{
		{"defaults only", "", `{"sort":"new"}`, ""},
		{"boolean true", "b=true", `{"b":true,"sort":"new"}`, ""},
		{"boolean anything else is false", "b=1", `{"b":false,"sort":"new"}`, ""},
		{"repeated boolean is false", "b=true&b=true", `{"b":false,"sort":"new"}`, ""},
		{"array of integers", "ids=1&ids=2&ids=&ids=x", `{"ids":[1,2,0],"sort":"new"}`, ""},
		{"array item out of range", "ids=1&ids=-1", "", "Error: ids/1 can not be less than 0"},
		{"integer wraps like JavaScript", "n=4294967297", `{"n":1,"sort":"new"}`, ""},
		{"hex integer", "n=0x10", `{"n":16,"sort":"new"}`, ""},
		{"string enum", "sort=top", "", "Error: sort must be one of (new|old)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cat.Params("com.example.search", q)
			if tt.message != "" {
				wantError(t, err, 400, "InvalidRequest", tt.message)
				return
			}
			if err != nil {
				t.Fatalf("Params: %v", err)
			}
			sameJSON(t, got, json.RawMessage(tt.want))
		})
	}
}

func TestLexiconsHoldOnlyJSON(t *testing.T) {
	t.Parallel()
	err := fs.WalkDir(lexicons.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path.Ext(p) != ".json" {
			t.Errorf("unexpected file %s in lexicons", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

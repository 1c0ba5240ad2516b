package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/lexicon"
	"github.com/latency-fabric/alf/internal/record"
)

// vectorFile is one file of testdata/validate.
type vectorFile struct {
	Collection string   `json:"collection"`
	Cases      []vector `json:"cases"`
}

// vector is a record and what Check must say of it: Error is a fragment of
// the error, "" for a record Check accepts.
type vector struct {
	Name       string            `json:"name"`
	Collection string            `json:"collection"` // the file's when empty
	Record     json.RawMessage   `json:"record"`
	Repeat     map[string]repeat `json:"repeat"` // placeholder in Record → Unit repeated Times
	Error      string            `json:"error"`
}

type repeat struct {
	Unit  string `json:"unit"`
	Times int    `json:"times"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	files, err := filepath.Glob("testdata/validate/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in testdata/validate: %v", err)
	}
	var all []vector
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range f.Cases {
			v.Name = strings.TrimSuffix(filepath.Base(name), ".json") + "/" + v.Name
			if v.Collection == "" {
				v.Collection = f.Collection
			}
			v.Record = expand(t, v)
			all = append(all, v)
		}
	}
	return all
}

// expand replaces each placeholder of v.Repeat in the record's JSON text.
func expand(t *testing.T, v vector) []byte {
	t.Helper()
	out := []byte(v.Record)
	for placeholder, r := range v.Repeat {
		if !bytes.Contains(out, []byte(placeholder)) {
			t.Fatalf("%s: placeholder %q not in the record", v.Name, placeholder)
		}
		unit, err := json.Marshal(r.Unit)
		if err != nil {
			t.Fatal(err)
		}
		out = bytes.ReplaceAll(out, []byte(placeholder), bytes.Repeat(unit[1:len(unit)-1], r.Times))
	}
	return out
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			err := record.Check(v.Collection, v.Record)
			switch {
			case v.Error == "":
				if err != nil {
					t.Errorf("Check: %v, want nil", err)
				}
			case err == nil:
				t.Errorf("Check accepted the record, want an error containing %q", v.Error)
			case !errors.Is(err, record.ErrInvalid):
				t.Errorf("Check: %v, does not wrap ErrInvalid", err)
			case !strings.Contains(err.Error(), v.Error):
				t.Errorf("Check: %v\nwant an error containing %q", err, v.Error)
			}
		})
	}
}

// TestCheckAgreesWithLexicons runs indigo's lexicon validator, with the
// Bluesky lexicons that ship in indigo's module, on every vector for a
// collection Check knows: both must accept or both refuse. This ties
// Check's rules table and its reading of the generated types to the
// lexicons themselves.
func TestCheckAgreesWithLexicons(t *testing.T) {
	t.Parallel()
	cat := bskyLexicons(t)
	known := map[string]bool{"app.bsky.feed.post": true, "app.bsky.actor.profile": true}
	n := 0
	for _, v := range loadVectors(t) {
		if !known[v.Collection] {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			checkErr := record.Check(v.Collection, v.Record)
			lexErr := validateWithLexicons(cat, v.Collection, v.Record)
			if (checkErr == nil) != (lexErr == nil) {
				t.Errorf("Check: %v\nlexicon validator: %v", checkErr, lexErr)
			}
		})
	}
	if n < 50 {
		t.Errorf("only %d vectors compared", n)
	}
}

// bskyLexicons loads every lexicon in indigo's module directory.
func bskyLexicons(t *testing.T) *lexicon.BaseCatalog {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/bluesky-social/indigo").Output()
	if err != nil {
		t.Fatalf("locate indigo's module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "lexicons")
	cat := lexicon.NewBaseCatalog()
	if err := cat.LoadDirectory(dir); err != nil {
		t.Fatalf("load lexicons from %s: %v", dir, err)
	}
	return cat
}

// validateWithLexicons validates the way a PDS does: data model, $type
// (set to the collection when absent), then the record's lexicon.
func validateWithLexicons(cat lexicon.Catalog, collection string, recordJSON []byte) error {
	data, err := atdata.UnmarshalJSON(recordJSON)
	if err != nil {
		return err
	}
	if _, ok := data["$type"]; !ok {
		data["$type"] = collection
	}
	return lexicon.ValidateRecord(cat, data, collection, 0)
}

func ExampleCheck() {
	post := []byte(`{"$type":"app.bsky.feed.post","text":"bonjour","createdAt":"2026-03-01T09:00:00.000Z"}`)
	fmt.Println(record.Check("app.bsky.feed.post", post))

	post = []byte(`{"$type":"app.bsky.feed.post","text":"bonjour","langs":["fr","en","de","it"],"createdAt":"2026-03-01T09:00:00.000Z"}`)
	fmt.Println(record.Check("app.bsky.feed.post", post))
	// Output:
	// <nil>
	// invalid record: record/langs: 4 items, at most 3
}

// Prepare checks, compacts and addresses a record in one pass: the compact
// bytes keep every value (big integers, $bytes) and the CID is that of the
// record.
func TestPrepare(t *testing.T) {
	t.Parallel()
	in := []byte(`{ "$type": "app.bsky.feed.post", "text": "hi",
		"createdAt": "2024-01-01T00:00:00.000Z" }`)
	body, cid, err := record.Prepare("app.bsky.feed.post", in)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00.000Z"}` {
		t.Fatalf("compact = %s", body)
	}
	if cid != "bafyreiax32t3heeoeaia4m5ggaa4o5jfzt5xf7gfpg4xg574lxxpwpe77q" {
		t.Fatalf("cid = %s, want the spec's vector", cid)
	}
	keep := []byte(`{"n": 9007199254740993, "b": {"$bytes": "AQID"}}`)
	body, _, err = record.Prepare("com.example.thing", keep)
	if err != nil || string(body) != `{"n":9007199254740993,"b":{"$bytes":"AQID"}}` {
		t.Fatalf("Prepare(%s) = %s, %v", keep, body, err)
	}
	for _, bad := range [][]byte{[]byte(`{"n": 1.5}`), []byte(`{"$type":"app.bsky.feed.like"}`), []byte(`{"a":`)} {
		if _, _, err := record.Prepare("app.bsky.feed.post", bad); !errors.Is(err, record.ErrInvalid) {
			t.Errorf("Prepare(%s) = %v, want ErrInvalid", bad, err)
		}
	}
}

// Package lexicon loads the lexicon documents of alf's XRPC surface (package
// lexicons at the repository root) into indigo's atproto/lexicon catalog and
// validates XRPC requests against them the way the reference service's XRPC
// layer does, with the same error names and messages.
//
// A gateway handles /xrpc/<nsid> in this order:
//
//	m, ok := cat.Method(nsid)            // !ok: 501 NotImplemented()
//	err := m.CheckHTTPMethod(r.Method)   // 400 InvalidRequest
//	params, err := cat.Params(nsid, r.URL.Query())
//	input, err := cat.Input(nsid, r.Header.Get("Content-Type"), body)
//
// Every error is an *Error carrying the HTTP status, the error name and the
// message of the envelope. Input keeps JSON numbers as json.Number and leaves
// {"$link": …} and {"$bytes": …} objects as they are.
package lexicon

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	lex "github.com/bluesky-social/indigo/atproto/lexicon"

	"github.com/latency-fabric/alf/lexicons"
)

// Method kinds.
const (
	KindQuery     = "query"
	KindProcedure = "procedure"
)

// Method is one XRPC method of the catalog.
type Method struct {
	NSID string
	Kind string // KindQuery or KindProcedure
}

// HTTPMethod is the verb the method is called with: GET for queries, POST for procedures.
func (m Method) HTTPMethod() string {
	if m.Kind == KindQuery {
		return http.MethodGet
	}
	return http.MethodPost
}

// CheckHTTPMethod rejects a request made with the wrong verb
// ("Incorrect HTTP method (GET) expected POST").
func (m Method) CheckHTTPMethod(verb string) error {
	if verb == m.HTTPMethod() {
		return nil
	}
	return invalidRequest("Incorrect HTTP method (%s) expected %s", verb, m.HTTPMethod())
}

// Catalog holds the loaded lexicons and validates requests against them.
// It is read-only after loading and safe for concurrent use.
type Catalog struct {
	schemas *lex.BaseCatalog
	methods map[string]method
	order   map[string][]string // object keys in declaration order, by schema location
	defs    []string            // every definition loaded, as "nsid#name"
}

type method struct {
	Method
	params *lex.SchemaParams
	input  *lex.SchemaBody
}

// Load reads the lexicons embedded in the binary (package lexicons).
func Load() (*Catalog, error) {
	return New(lexicons.FS())
}

// New reads every .json lexicon document under fsys. A file's path must
// mirror its NSID (com/atproto/repo/createRecord.json), and every ref must
// resolve within the loaded files.
func New(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{schemas: lex.NewBaseCatalog(), methods: map[string]method{}, order: map[string][]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read lexicon %s: %w", p, err)
		}
		return c.add(p, b)
	})
	if err != nil {
		return nil, err
	}
	if err := c.checkRefs(c.defs); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Catalog) add(p string, b []byte) error {
	var sf lex.SchemaFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return fmt.Errorf("parse lexicon %s: %w", p, err)
	}
	if want := strings.ReplaceAll(sf.ID, ".", "/") + ".json"; p != want {
		return fmt.Errorf("lexicon %s: id %q belongs in %s", p, sf.ID, want)
	}
	order, err := keyOrder(b)
	if err != nil {
		return fmt.Errorf("parse lexicon %s: %w", p, err)
	}
	if err := c.schemas.AddSchemaFile(sf); err != nil {
		return fmt.Errorf("add lexicon %s: %w", p, err)
	}
	for ptr, keys := range order {
		c.order[sf.ID+"#"+ptr] = keys
	}
	for name := range sf.Defs {
		c.defs = append(c.defs, sf.ID+"#"+name)
	}
	if _, ok := sf.Defs["main"]; ok {
		return c.addMethod(sf.ID)
	}
	return nil
}

func (c *Catalog) addMethod(nsid string) error {
	s, err := c.schemas.Resolve(nsid)
	if err != nil {
		return fmt.Errorf("lexicon %s: %w", nsid, err)
	}
	switch d := s.Def.(type) {
	case lex.SchemaQuery:
		c.methods[nsid] = method{Method: Method{NSID: nsid, Kind: KindQuery}, params: d.Parameters}
	case lex.SchemaProcedure:
		c.methods[nsid] = method{Method: Method{NSID: nsid, Kind: KindProcedure}, params: d.Parameters, input: d.Input}
	}
	return nil
}

// Method looks up an XRPC method. When ok is false the request gets
// NotImplemented (501), whatever its verb.
func (c *Catalog) Method(nsid string) (Method, bool) {
	m, ok := c.methods[nsid]
	return m.Method, ok
}

// Methods lists every method of the catalog, sorted by NSID.
func (c *Catalog) Methods() []Method {
	out := make([]Method, 0, len(c.methods))
	for _, m := range c.methods {
		out = append(out, m.Method)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NSID < out[j].NSID })
	return out
}

// keys returns the keys of props in the order the lexicon file declares
// them at location loc (the reference validates, and so reports, in that
// order), falling back to sorted order.
func (c *Catalog) keys(loc string, props map[string]lex.SchemaDef) []string {
	if order, ok := c.order[loc]; ok && len(order) == len(props) {
		return order
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

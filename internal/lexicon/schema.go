package lexicon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	lex "github.com/bluesky-social/indigo/atproto/lexicon"
)

// keyOrder reads a lexicon document and returns the keys of each of its
// objects in file order, by JSON pointer ("/defs/main/input/schema/properties").
// indigo's schema types keep properties in maps, which lose that order.
func keyOrder(b []byte) (map[string][]string, error) {
	out := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := walkKeys(dec, "", out); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after lexicon document")
	}
	return out, nil
}

func walkKeys(dec *json.Decoder, ptr string, out map[string][]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		keys := []string{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			keys = append(keys, key)
			if err := walkKeys(dec, ptr+"/"+key, out); err != nil {
				return err
			}
		}
		out[ptr] = keys
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, ptr+"/"+strconv.Itoa(i), out); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // closing delimiter
	return err
}

// fullRef expands a lexicon reference ("#create", "com.example.defs#view",
// "com.example.thing") found in the document base to "nsid#name".
func fullRef(base, ref string) string {
	switch {
	case strings.HasPrefix(ref, "#"):
		return base + ref
	case !strings.Contains(ref, "#"):
		return ref + "#main"
	}
	return ref
}

// defLocation is the schema location of a named definition ("nsid#name"),
// in the form the key order is recorded under.
func defLocation(ref string) string {
	nsid, name, _ := strings.Cut(ref, "#")
	return nsid + "#/defs/" + name
}

// baseOf returns the NSID of the document a schema location belongs to.
func baseOf(loc string) string {
	nsid, _, _ := strings.Cut(loc, "#")
	return nsid
}

// checkRefs makes sure every ref and union member in the loaded documents resolves.
func (c *Catalog) checkRefs(defs []string) error {
	for _, name := range defs {
		s, err := c.schemas.Resolve(name)
		if err != nil {
			return fmt.Errorf("lexicon %s: %w", name, err)
		}
		base := baseOf(name)
		for _, ref := range refsOf(s.Def) {
			if _, err := c.schemas.Resolve(fullRef(base, ref)); err != nil {
				return fmt.Errorf("lexicon %s: unresolved ref %s: %w", name, ref, err)
			}
		}
	}
	return nil
}

// refsOf lists the references a schema makes, as written.
func refsOf(def any) []string {
	switch d := def.(type) {
	case lex.SchemaQuery:
		return append(paramRefs(d.Parameters), bodyRefs(d.Output)...)
	case lex.SchemaProcedure:
		return append(append(paramRefs(d.Parameters), bodyRefs(d.Input)...), bodyRefs(d.Output)...)
	case lex.SchemaRecord:
		return refsOf(d.Record)
	case lex.SchemaObject:
		var out []string
		for _, p := range d.Properties {
			out = append(out, refsOf(p.Inner)...)
		}
		return out
	case lex.SchemaArray:
		return refsOf(d.Items.Inner)
	case lex.SchemaRef:
		return []string{d.Ref}
	case lex.SchemaUnion:
		return d.Refs
	}
	return nil
}

func paramRefs(p *lex.SchemaParams) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, d := range p.Properties {
		out = append(out, refsOf(d.Inner)...)
	}
	return out
}

func bodyRefs(b *lex.SchemaBody) []string {
	if b == nil || b.Schema == nil {
		return nil
	}
	return refsOf(b.Schema.Inner)
}

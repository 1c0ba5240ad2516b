package blob

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Refs returns the CIDs of every {"$type":"blob","ref":{"$link":…}} in a
// record, at any depth (objects and arrays), sorted and without repeats.
func Refs(recordJSON []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(recordJSON))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("blob refs: %w", err)
	}
	var cids []string
	walk(v, func(cid string) { cids = append(cids, cid) })
	slices.Sort(cids)
	return slices.Compact(cids), nil
}

// walk calls found with the ref of every blob object under v.
func walk(v any, found func(cid string)) {
	switch v := v.(type) {
	case map[string]any:
		if cid, ok := blobRef(v); ok {
			found(cid)
		}
		for _, e := range v {
			walk(e, found)
		}
	case []any:
		for _, e := range v {
			walk(e, found)
		}
	}
}

func blobRef(m map[string]any) (string, bool) {
	if m["$type"] != "blob" {
		return "", false
	}
	ref, _ := m["ref"].(map[string]any)
	cid, ok := ref["$link"].(string)
	return cid, ok && cid != ""
}

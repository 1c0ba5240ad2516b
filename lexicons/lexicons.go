// Package lexicons holds the lexicon documents of every XRPC method alf
// serves, one JSON file per NSID laid out as town/roundabout/scheduledPosts/listPosts.json.
//
// The files are embedded into the binary; internal/lexicon loads them into a
// catalog and validates requests against them:
//
//	cat, err := lexicon.Load() // reads lexicons.FS()
package lexicons

import (
	"embed"
	"io/fs"
)

//go:embed town com
var files embed.FS

// FS returns the lexicon files; paths mirror the NSIDs (com/atproto/repo/createRecord.json).
func FS() fs.FS { return files }

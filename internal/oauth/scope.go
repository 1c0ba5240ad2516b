package oauth

import (
	"slices"
	"strings"

	"github.com/bluesky-social/indigo/atproto/auth"
)

// repoActions are the record writes alf publishes: createRecord, putRecord
// and deleteRecord drafts.
var repoActions = []string{"create", "update", "delete"}

// Scopes returns the OAuth scopes alf asks for: "atproto", the repo
// permission to create, update and delete records of collections, and
// "blob:*/*" to upload the blobs those records embed.
//
// collections are ALLOWED_COLLECTIONS: NSIDs, "*" for all, or prefixes such
// as "app.bsky.feed.*". atproto permissions name whole NSIDs or "*" only, so
// a prefix widens the permission to every collection (wide reports it);
// alf still refuses writes outside ALLOWED_COLLECTIONS itself. nil means
// all collections.
//
//	Scopes([]string{"app.bsky.feed.post"})
//	// atproto repo:app.bsky.feed.post?action=create&action=update&action=delete blob:*/*
func Scopes(collections []string) (scopes []string, wide bool) {
	colls, wide := permissionCollections(collections)
	repo := auth.Permission{Resource: "repo", Collection: colls, Action: repoActions}
	blob := auth.Permission{Resource: "blob", Accept: []string{"*/*"}}
	return []string{"atproto", repo.ScopeString(), blob.ScopeString()}, wide
}

// permissionCollections maps ALLOWED_COLLECTIONS to the collection list of
// a repo permission: sorted, without duplicates, or just "*".
func permissionCollections(collections []string) (colls []string, wide bool) {
	for _, c := range collections {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
			continue
		case c == "*":
			return []string{"*"}, false
		case strings.HasSuffix(c, ".*"):
			return []string{"*"}, true
		}
		colls = append(colls, c)
	}
	if len(colls) == 0 {
		return []string{"*"}, false
	}
	slices.Sort(colls)
	return slices.Compact(colls), false
}

func scopeString(scopes []string) string { return strings.Join(scopes, " ") }

package oauth

import (
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/auth"
)

func TestScopes(t *testing.T) {
	t.Parallel()
	const actions = "action=create&action=update&action=delete"
	tests := []struct {
		name        string
		collections []string
		want        string
		wide        bool
	}{
		{"all by default", nil, "atproto repo:*?" + actions + " blob:*/*", false},
		{"star", []string{"*"}, "atproto repo:*?" + actions + " blob:*/*", false},
		{"one collection", []string{"app.bsky.feed.post"}, "atproto repo:app.bsky.feed.post?" + actions + " blob:*/*", false},
		{"several, sorted once each", []string{"app.bsky.feed.post", " app.bsky.feed.like", "app.bsky.feed.post"},
			"atproto repo?" + actions + "&collection=app.bsky.feed.like&collection=app.bsky.feed.post blob:*/*", false},
		{"star among others", []string{"app.bsky.feed.post", "*"}, "atproto repo:*?" + actions + " blob:*/*", false},
		{"a prefix widens to all", []string{"app.bsky.feed.*"}, "atproto repo:*?" + actions + " blob:*/*", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			scopes, wide := Scopes(tt.collections)
			if got := scopeString(scopes); got != tt.want || wide != tt.wide {
				t.Errorf("Scopes(%q) = %q, wide %v; want %q, wide %v", tt.collections, got, wide, tt.want, tt.wide)
			}
			for _, s := range scopes[1:] {
				p, err := auth.ParsePermissionString(s)
				if err != nil {
					t.Errorf("%q is not a valid atproto permission: %v", s, err)
					continue
				}
				if p.Resource == "repo" && strings.Join(p.Action, ",") != "create,update,delete" {
					t.Errorf("%q: actions %v", s, p.Action)
				}
			}
		})
	}
}

package oauth

import (
	"testing"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

func TestCheckRedirect(t *testing.T) {
	t.Parallel()
	origins, err := parseOrigins([]string{"https://App.Example.com:443/", "http://localhost:3000", " "})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{origin: "https://alf.example.com", origins: origins}
	tests := []struct {
		uri  string
		want error
	}{
		{"https://alf.example.com/done", nil},
		{"https://ALF.example.com:443/done?x=1#top", nil},
		{"https://app.example.com/after/auth?authorized=true", nil},
		{"http://localhost:3000/", nil},
		{"https://evil.example.net/", errRedirectOrigin},
		{"https://app.example.com.evil.net/", errRedirectOrigin},
		{"https://alf.example.com@evil.example.net/", errRedirectOrigin},
		{"https://user@alf.example.com/", errRedirectOrigin},
		{"http://alf.example.com/done", errRedirectOrigin},
		{"https://alf.example.com:8443/done", errRedirectOrigin},
		{"http://localhost:3001/", errRedirectOrigin},
		{"javascript:alert(1)", errRedirectInvalid},
		{"//evil.example.net/", errRedirectInvalid},
		{"/relative", errRedirectInvalid},
		{"https://[::1", errRedirectInvalid},
		{"ftp://alf.example.com/", errRedirectOrigin},
	}
	for _, tt := range tests {
		if got := c.checkRedirect(tt.uri); got != tt.want {
			t.Errorf("checkRedirect(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}

func TestParseOriginsRefuses(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "https://app.example.com?q", "ftp://app.example.com", "https://u@app.example.com"} {
		if _, err := parseOrigins([]string{bad}); err == nil {
			t.Errorf("parseOrigins(%q) accepted", bad)
		}
	}
}

func TestWithDID(t *testing.T) {
	t.Parallel()
	did := syntax.DID("did:plc:abc123")
	tests := []struct{ in, want string }{
		{"https://app.example/done", "https://app.example/done?did=did%3Aplc%3Aabc123"},
		{"https://app.example/?authorized=true", "https://app.example/?authorized=true&did=did%3Aplc%3Aabc123"},
		{"https://app.example/?a=1&b=x%20y&c", "https://app.example/?a=1&b=x%20y&c&did=did%3Aplc%3Aabc123"},
		{"https://app.example/?did=did:plc:evil&a=1", "https://app.example/?a=1&did=did%3Aplc%3Aabc123"},
		{"https://app.example/?d%69d=x", "https://app.example/?did=did%3Aplc%3Aabc123"},
		{"https://app.example/p?", "https://app.example/p?did=did%3Aplc%3Aabc123"},
		{"https://app.example/p?x=1#frag", "https://app.example/p?x=1&did=did%3Aplc%3Aabc123#frag"},
	}
	for _, tt := range tests {
		if got := withDID(tt.in, did); got != tt.want {
			t.Errorf("withDID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

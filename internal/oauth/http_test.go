package oauth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/identity"

	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/seal"
)

func testConfig(t *testing.T, serviceURL string) Config {
	t.Helper()
	key, _ := seal.NewKey()
	return Config{
		ServiceURL:      serviceURL,
		Collections:     []string{"app.bsky.feed.post"},
		RedirectOrigins: []string{"https://app.example.com"},
		Key:             key,
		Buckets:         testBuckets(t, natstest.Provisioned(t)),
		Directory:       identity.NewMockDirectory(),
	}
}

func TestClientMetadata(t *testing.T) {
	t.Parallel()
	c := newClient(t, testConfig(t, "https://alf.example.com/"))
	rec := get(t, c.Handler(), "/oauth/client-metadata.json")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("HTTP %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"client_id":                       "https://alf.example.com/oauth/client-metadata.json",
		"client_name":                     "Scheduled Posts",
		"client_uri":                      "https://alf.example.com",
		"application_type":                "web",
		"redirect_uris":                   []any{"https://alf.example.com/oauth/callback"},
		"grant_types":                     []any{"authorization_code", "refresh_token"},
		"response_types":                  []any{"code"},
		"scope":                           "atproto repo:app.bsky.feed.post?action=create&action=update&action=delete blob:*/*",
		"token_endpoint_auth_method":      "private_key_jwt",
		"token_endpoint_auth_signing_alg": "ES256",
		"dpop_bound_access_tokens":        true,
		"jwks_uri":                        "https://alf.example.com/oauth/jwks.json",
	}
	for k, v := range want {
		if got, _ := json.Marshal(doc[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if _, ok := doc["jwks"]; ok {
		t.Error("metadata has both jwks and jwks_uri")
	}
	var m oauth.ClientMetadata
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(c.ClientID()); err != nil || !m.IsConfidential() {
		t.Errorf("indigo says: %v, confidential %v", err, m.IsConfidential())
	}
}

func TestJWKSIsPublic(t *testing.T) {
	t.Parallel()
	c := newClient(t, testConfig(t, "https://alf.example.com"))
	rec := get(t, c.Handler(), "/oauth/jwks.json")
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d", rec.Code)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", rec.Body, err)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != c.key.id || k["x"] == "" || k["y"] == "" {
		t.Errorf("key = %v", k)
	}
	if _, ok := k["d"]; ok || len(k) != 7 {
		t.Errorf("JWKS shows more than the public key: %v", k)
	}
}

// TestLoopbackClient: an http service URL makes a public loopback client.
func TestLoopbackClient(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "http://localhost:1986")
	c := newClient(t, cfg)
	if !strings.HasPrefix(c.ClientID(), "http://localhost?") || !strings.Contains(c.ClientID(), "redirect_uri=http%3A%2F%2F127.0.0.1%3A1986%2Foauth%2Fcallback") || c.Confidential() {
		t.Errorf("client_id %s, confidential %v", c.ClientID(), c.Confidential())
	}
	m := c.Metadata()
	if m.TokenEndpointAuthMethod != "none" || m.JWKSURI != nil || *m.ApplicationType != "native" || m.RedirectURIs[0] != "http://127.0.0.1:1986/oauth/callback" {
		t.Errorf("metadata = %+v", m)
	}
	if rec := get(t, c.Handler(), "/oauth/jwks.json"); strings.TrimSpace(rec.Body.String()) != `{"keys":[]}` {
		t.Errorf("JWKS = %s", rec.Body)
	}
	if _, err := cfg.Buckets.Keys.Get(ctx, clientKeyKey); err == nil {
		t.Error("a loopback client made a client key")
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	good := testConfig(t, "https://alf.example.com")
	tests := map[string]func(*Config){
		"relative service URL": func(c *Config) { c.ServiceURL = "alf.example.com" },
		"ftp service URL":      func(c *Config) { c.ServiceURL = "ftp://alf.example.com" },
		"no buckets":           func(c *Config) { c.Buckets = Buckets{} },
		"bad redirect origin":  func(c *Config) { c.RedirectOrigins = []string{"https://app.example.com/path"} },
	}
	for name, breakIt := range tests {
		cfg := good
		breakIt(&cfg)
		if _, err := New(ctx, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	t.Parallel()
	c := newClient(t, testConfig(t, "https://alf.example.com"))
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"", 400, `{"error":"handle parameter is required"}`},
		{"handle=%20", 400, `{"error":"handle parameter is required"}`},
		{"handle=alice.test&redirect_uri=%2Frelative", 400, `{"error":"redirect_uri is not a valid URL"}`},
		{"handle=alice.test&redirect_uri=https%3A%2F%2Fevil.example.net%2F", 400, `{"error":"redirect_uri origin is not allowed"}`},
		{"handle=not%20a%20handle", 400, `{"error":"handle parameter must be a handle or a DID"}`},
		{"handle=unknown.test", 500, `"error":"Authorization failed"`},
	}
	for _, tt := range tests {
		rec := get(t, c.Handler(), "/oauth/authorize?"+tt.query)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("authorize?%s = %d %s; want %d %s", tt.query, rec.Code, rec.Body, tt.status, tt.body)
		}
	}
}

func TestCallbackRefuses(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "https://alf.example.com")
	c := newClient(t, cfg)
	if err := c.store.saveRequest(ctx, pendingRequest{Info: oauth.AuthRequestData{State: "st-denied"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"", 400, `{"error":"Missing authorization code"}`},
		{"state=st-denied&error=access_denied&error_description=%3Cscript%3E", 400,
			`{"error":"Missing authorization code","message":"The authorization server answered access_denied"}`},
		{"state=st-x&error=%3Cscript%3E", 400, `{"error":"Missing authorization code"}`},
		{"state=unknown&iss=https%3A%2F%2Fpds.example&code=cod-1", 500,
			`{"error":"Authorization callback failed","message":"unknown or expired authorization request"}`},
	}
	for _, tt := range tests {
		rec := get(t, c.Handler(), "/oauth/callback?"+tt.query)
		if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
			t.Errorf("callback?%s = %d %s; want %d %s", tt.query, rec.Code, rec.Body, tt.status, tt.body)
		}
	}
	if _, err := c.store.request(ctx, "st-denied"); err == nil {
		t.Error("a refused request is still pending")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

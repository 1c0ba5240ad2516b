package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
)

// An app holding its own OAuth session with the PDS, as the clients of the
// service alf replaces do, sends alf its DPoP-bound access token with a
// fresh proof for each request. The TLS harness's authorization server
// publishes the key it signs access tokens with (ES256K, as a PDS behind an
// entryway verifies; scripts/test sets PDS_ACCESS_TOKEN_ALG), so alf finds
// it through the user's DID document and accepts the request, on XRPC and
// Connect alike; the same proof sent again, a proof for another URL and the
// token without a proof are refused. Nothing of the token or the proofs
// is in a refusal's message or in alf's debug log. The app's DPoP key is a
// fresh one, and one whose JWK (made by indigo) drops a coordinate's
// leading zero byte, which the PDS takes and alf must too.
func TestDPoPClientOfItsOwnIsAccepted(t *testing.T) {
	t.Parallel()
	h := pdstest.LoadTLS(t)
	if h.AccessTokenAlg == "HS256" || h.AccessTokenAlg == "" {
		t.Fatalf("the TLS harness signs access tokens with %q; start it with PDS_ACCESS_TOKEN_ALG=ES256K (scripts/test does)", h.AccessTokenAlg)
	}
	for name, short := range map[string]bool{"fresh key": false, "key with a 31-byte JWK coordinate": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ownClientDPoP(t, h, dpopKey(t, short))
		})
	}
}

// dpopKey is a P-256 key; with short, one whose indigo JWK has a coordinate
// shorter than 32 bytes (about 1 key in 128).
func dpopKey(t *testing.T, short bool) atcrypto.PrivateKey {
	t.Helper()
	for {
		key, err := atcrypto.GeneratePrivateKeyP256()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := key.PublicKey()
		jwk, err := pub.JWK()
		if err != nil {
			t.Fatal(err)
		}
		if !short || len(jwk.X) < 43 || len(jwk.Y) < 43 { // 43 base64url characters: 32 bytes
			return key
		}
	}
}

func ownClientDPoP(t *testing.T, h *pdstest.TLSHarness, key atcrypto.PrivateKey) {
	alice := h.Account(t, 0)
	ctx := t.Context()
	hc := h.HTTPClient(t)
	app, err := pdstest.ClientLogin(ctx, hc, h.PublicURL, alice.Handle, alice.Password, key)
	if err != nil {
		t.Fatalf("alice's app signs in to her PDS: %v", err)
	}
	token := app.Data.AccessToken
	// The token is one the PDS itself takes (indigo's client answers its
	// DPoP nonce), for alice.
	var session struct{ DID string }
	if err := app.APIClient().Get(ctx, "com.atproto.server.getSession", nil, &session); err != nil || session.DID != alice.DID {
		t.Fatalf("getSession at the PDS with alice's app session: %q, %v; want %s", session.DID, err, alice.DID)
	}

	const alfURL = pdstest.OAuthClientOrigin // alf's public URL: every htu starts with it
	var logs syncBuffer
	var proofs []string
	n := startNode(t, connectNATS(t, natsServer(t)), &identity.BaseDirectory{PLCURL: h.PLCURL, HTTPClient: *hc, SkipHandleVerification: true}, node.All, func(o *node.Options) {
		o.ServiceURL = alfURL
		o.HTTPClient = hc
		o.DPoPHTTPClient = hc // the harness is on loopback, which the default refuses
		o.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	send := func(method, path string, body []byte, header http.Header) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "http://"+n.Addr()+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	withProof := func(method, path string) http.Header {
		t.Helper()
		proof, err := app.NewHostDPoP(method, alfURL+path)
		if err != nil {
			t.Fatal(err)
		}
		proofs = append(proofs, proof)
		return http.Header{"Authorization": {"DPoP " + token}, "Dpop": {proof}, "Content-Type": {"application/json"}}
	}

	marker := fmt.Sprintf("alf over the client's DPoP token %d", time.Now().UnixNano())
	const create = "/xrpc/com.atproto.repo.createRecord"
	body, _ := json.Marshal(map[string]any{"repo": alice.DID, "collection": "app.bsky.feed.post", "record": map[string]any{
		"$type": "app.bsky.feed.post", "text": marker, "createdAt": "2000-01-01T00:00:00Z",
	}})
	header := withProof(http.MethodPost, create)
	header.Set("x-scheduled-at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	status, raw := send(http.MethodPost, create, body, header)
	if status != http.StatusOK {
		t.Fatalf("createRecord with alice's DPoP token: %d %s", status, raw)
	}
	var created struct{ URI string }
	if err := json.Unmarshal(raw, &created); err != nil || !strings.HasPrefix(created.URI, "at://"+alice.DID+"/app.bsky.feed.post/") {
		t.Fatalf("createRecord answer %s (%v)", raw, err)
	}

	list := "/xrpc/town.roundabout.scheduledPosts.listPosts"
	listHeader := withProof(http.MethodGet, list)
	status, raw = send(http.MethodGet, list+"?repo="+url.QueryEscape(alice.DID), nil, listHeader)
	if status != http.StatusOK || !bytes.Contains(raw, []byte(marker)) || !bytes.Contains(raw, []byte(created.URI)) {
		t.Fatalf("listPosts with alice's DPoP token: %d %.300s", status, raw)
	}

	drafts := alfv1connect.NewDraftServiceClient(http.DefaultClient, "http://"+n.Addr())
	req := connect.NewRequest(&alfv1.ListDraftsRequest{})
	for k, v := range withProof(http.MethodPost, alfv1connect.DraftServiceListDraftsProcedure) {
		req.Header()[k] = v
	}
	got, err := drafts.ListDrafts(ctx, req)
	if err != nil {
		t.Fatalf("Connect ListDrafts with alice's DPoP token: %v", err)
	}
	if len(got.Msg.GetDrafts()) != 1 || got.Msg.GetDrafts()[0].GetUri() != created.URI {
		t.Fatalf("Connect ListDrafts: %v, want the one draft %s", got.Msg.GetDrafts(), created.URI)
	}

	refused := []struct {
		name   string
		header http.Header
	}{
		{"the same proof again", listHeader},
		{"a proof made for another URL", withProof(http.MethodGet, "/xrpc/town.roundabout.scheduledPosts.getPost")},
		{"the token without a proof", http.Header{"Authorization": {"DPoP " + token}}},
	}
	var answers []string
	for _, c := range refused {
		status, raw := send(http.MethodGet, list+"?repo="+url.QueryEscape(alice.DID), nil, c.header)
		if status != http.StatusUnauthorized {
			t.Errorf("%s: %d %.200s, want 401", c.name, status, raw)
		}
		answers = append(answers, string(raw))
	}

	n.Stop()
	out := logs.String()
	if !strings.Contains(out, "projection rebuilt") {
		t.Fatalf("alf's log did not reach the test's sink: %.300s", out)
	}
	assertNoPart(t, "alf's debug log", out, append(proofs, token))
	assertNoPart(t, "the refusals", strings.Join(answers, "\n"), append(proofs, token))
}

// assertNoPart fails when a segment of one of the JWTs is in text.
func assertNoPart(t *testing.T, where, text string, jwts []string) {
	t.Helper()
	for _, s := range jwts {
		for _, part := range strings.Split(s, ".") {
			if strings.Contains(text, part) {
				t.Errorf("a segment of a token or proof (%d bytes) is in %s", len(part), where)
			}
		}
	}
}

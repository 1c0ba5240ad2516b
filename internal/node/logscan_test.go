package node_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/seal"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A whole scenario with debug logging, alf's and its libraries' (through
// slog.Default), then a scan of everything logged: no app password,
// password, PDS token, service-auth token, API key, trigger key, webhook
// secret or ENCRYPTION_KEY appears, even where calls failed. Not parallel:
// it owns slog.Default while it runs.
func TestLogsHoldNoSecrets(t *testing.T) {
	h := pdstest.Load(t)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })

	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(hook.Close)
	key, keyHex := seal.NewKey()
	const hookToken, hookSecret = "hooktoken-s3cret-1", "hooksecret-s3cret-2"
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, func(o *node.Options) {
		o.Key = key
		o.Log = logger
		o.WebhookURL = hook.URL + "/hook?token=" + hookToken
		o.WebhookKey = []byte(hookSecret)
	})
	u := signIn(t, h, 0)
	drafts, accounts := u.clients(n)
	ctx := context.Background()

	// A wrong app password, then the right one.
	_, err := accounts.ConnectAppPassword(ctx, connect.NewRequest(&alfv1.ConnectAppPasswordRequest{Identifier: u.acct.Handle, AppPassword: "wron-gapp-pass-word"}))
	if err == nil {
		t.Fatal("a wrong app password was accepted")
	}
	connectAccount(t, u, accounts)

	// An API key, used for a draft with a trigger, fired.
	made, err := accounts.CreateApiKey(ctx, connect.NewRequest(&alfv1.CreateApiKeyRequest{Name: "log scan"}))
	if err != nil {
		t.Fatal(err)
	}
	apiKey := made.Msg.Secret
	marker := fmt.Sprintf("alf log scan %d", time.Now().UnixNano())
	body, _ := json.Marshal(map[string]any{"repo": u.acct.DID, "collection": "app.bsky.feed.post", "record": markedRecord(marker)})
	req, _ := http.NewRequest("POST", "http://"+n.Addr()+"/xrpc/com.atproto.repo.createRecord", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-trigger", "webhook")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	trigger, _ := created["triggerUrl"].(string)
	if resp.StatusCode != 200 || trigger == "" {
		t.Fatalf("createRecord with an API key: %d %v", resp.StatusCode, created)
	}
	triggerKey := trigger[strings.LastIndex(trigger, "/")+1:]
	if resp, err := http.Post("http://"+n.Addr()+"/triggers/"+triggerKey, "application/json", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("fire the trigger: %v %v", resp, err)
	}
	// A bad token and a scheduled draft published on time.
	bad := alfv1connect.NewDraftServiceClient(http.DefaultClient, "http://"+n.Addr(), connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+u.acct.AccessJwt)
				return next(ctx, req)
			}
		})))
	if _, err := bad.ListDrafts(ctx, connect.NewRequest(&alfv1.ListDraftsRequest{})); err == nil {
		t.Fatal("a PDS access token was accepted as a service-auth token")
	}
	d := createDraft(t, drafts, markedPost(t, marker+" scheduled", nil))
	if _, err := drafts.PublishDraft(ctx, connect.NewRequest(&alfv1.PublishDraftRequest{Uri: d.Uri})); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, drafts, d.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)
	time.Sleep(1500 * time.Millisecond) // the webhook fails and retries, logging it
	if _, err := accounts.DeleteAccount(ctx, connect.NewRequest(&alfv1.DeleteAccountRequest{})); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	if !strings.Contains(out, `"level":"DEBUG"`) && !strings.Contains(out, `"level":"WARN"`) {
		t.Fatalf("the scenario logged nothing to scan (%d bytes)", len(out))
	}
	u.mu.Lock()
	secrets := map[string]string{
		"app password":       u.acct.AppPassword,
		"wrong app password": "wron-gapp-pass-word",
		"account password":   u.acct.Password,
		"PDS access JWT":     u.acct.AccessJwt,
		"PDS refresh JWT":    u.acct.RefreshJwt,
		"API key":            apiKey,
		"trigger key":        triggerKey,
		"webhook token":      hookToken,
		"webhook secret":     hookSecret,
		"ENCRYPTION_KEY":     keyHex,
		"ENCRYPTION_KEY raw": string(mustHex(t, keyHex)),
	}
	for lxm, tok := range u.tokens {
		secrets["service-auth token for "+lxm] = tok
	}
	u.mu.Unlock()
	for name, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("the logs hold the %s", name)
		}
	}
	t.Logf("scanned %d bytes of logs (%d lines) for %d secrets", len(out), strings.Count(out, "\n"), len(secrets))
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

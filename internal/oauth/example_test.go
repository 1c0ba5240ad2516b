package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/oauth"
	"github.com/latency-fabric/alf/internal/seal"
)

func ExampleScopes() {
	scopes, _ := oauth.Scopes([]string{"app.bsky.feed.post"})
	for _, s := range scopes {
		fmt.Println(s)
	}
	// Output:
	// atproto
	// repo:app.bsky.feed.post?action=create&action=update&action=delete
	// blob:*/*
}

func ExampleClient() {
	var (
		ctx  = context.Background()
		js   jetstream.JetStream // connected, with events.Provision done
		key  seal.Key            // from ENCRYPTION_KEY
		mux  = http.NewServeMux()
		did  = syntax.DID("did:plc:example")
		post = []byte(`{"$type":"app.bsky.feed.post","text":"hello","createdAt":"2026-01-01T00:00:00.000Z"}`)
	)
	buckets, err := oauth.OpenBuckets(ctx, js)
	if err != nil {
		return
	}
	client, err := oauth.New(ctx, oauth.Config{
		ServiceURL:      "https://alf.example.com",
		Collections:     []string{"app.bsky.feed.post"},
		RedirectOrigins: []string{"https://app.example.com"},
		Key:             key,
		Buckets:         buckets,
		OnAuthorized: func(ctx context.Context, a oauth.Authorization) error {
			fmt.Println("authorized:", a.DID, "at", a.Host) // append AccountAuthorized here
			return nil
		},
	})
	if err != nil {
		return
	}
	mux.Handle("/oauth/", client.Handler())

	// Publishing through the account's session:
	pc, err := client.PDSClient(ctx, did)
	if err != nil {
		return
	}
	_, err = pc.CreateRecord(ctx, "app.bsky.feed.post", syntax.NewTIDNow(0).String(), post)
	if errors.Is(err, oauth.ErrRevoked) {
		fmt.Println("the user has to authorize alf again")
	}
}

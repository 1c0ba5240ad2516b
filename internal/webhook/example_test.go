package webhook_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/webhook"
	"github.com/nats-io/nats.go/jetstream"
)

// A receiver checks X-Alf-Signature against the shared key before trusting
// a notice.
func ExampleVerify() {
	key := []byte("shared signing key")
	body := []byte(`{"uri":"at://did:plc:abc/app.bsky.feed.post/3l2s5xxv2ze2c","cid":"bafyreig","publishedAt":"2026-03-01T09:00:00.000Z"}`)
	sig := webhook.Sign(key, body) // what the notifier sends

	fmt.Println(webhook.Verify(key, body, sig))
	fmt.Println(webhook.Verify(key, append(body, ' '), sig))
	// Output:
	// true
	// false
}

// A node runs one notifier next to its publisher when
// POST_PUBLISH_WEBHOOK_URL is set.
func ExampleNew() {
	ctx := context.Background()
	var js jetstream.JetStream // provisioned with events.Provision
	n, err := webhook.New(webhook.Config{
		Store:      events.NewStore(js),
		URL:        os.Getenv("POST_PUBLISH_WEBHOOK_URL"),
		SigningKey: []byte(os.Getenv("POST_PUBLISH_WEBHOOK_KEY")),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer n.Stop()
}

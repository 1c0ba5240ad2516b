package pds_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/seal"
)

// A publisher connects an account once, then writes with a fixed rkey and
// decides what a failure means.
func ExampleSessions() {
	ctx := context.Background()
	var kv jetstream.KeyValue // the alf_sessions bucket
	key, _ := seal.NewKey()
	sessions := pds.NewSessions(kv, key, identity.DefaultDirectory(), nil)

	did := syntax.DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	if _, err := sessions.ConnectAppPassword(ctx, did, "alice.example.com", "abcd-efgh-ijkl-mnop"); err != nil {
		fmt.Println("connect:", err)
		return
	}
	c, err := sessions.Client(ctx, did)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.CreateRecord(ctx, "app.bsky.feed.post", syntax.NewTIDNow(0).String(),
		[]byte(`{"$type":"app.bsky.feed.post","text":"hello","createdAt":"2026-03-01T09:00:00.000Z"}`))
	switch {
	case err == nil:
	case pds.UnknownOutcome(err):
		// GetRecord and compare CIDs before deciding.
	case pds.Retryable(err):
		// Try again later.
	default:
		// Failed for good.
	}
}

func ExampleRetryable() {
	limited := &pds.Error{Status: 429, Name: "RateLimitExceeded", RetryAfter: time.Unix(1772355660, 0)}
	down := &pds.Error{Status: 503, Name: "ServiceUnavailable"}
	invalid := &pds.Error{Status: 400, Name: "InvalidRequest", Message: "Invalid app.bsky.feed.post record"}
	for _, err := range []error{limited, down, invalid, pds.ErrRevoked} {
		fmt.Println(pds.Retryable(err), pds.UnknownOutcome(err))
	}
	// Output:
	// true false
	// true true
	// false false
	// false false
}

package oauth

import (
	"context"
	"testing"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/nats-io/nats.go/jetstream"
)

// testBuckets opens alf's OAuth buckets on a provisioned JetStream.
func testBuckets(t *testing.T, js jetstream.JetStream) Buckets {
	t.Helper()
	b, err := OpenBuckets(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored reads did's session as stored.
func stored(t *testing.T, c *Client, did syntax.DID) storedSession {
	t.Helper()
	s, _, err := c.store.session(context.Background(), did)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mutate changes did's stored session with compare-and-swap.
func mutate(t *testing.T, c *Client, did syntax.DID, f func(*storedSession)) {
	t.Helper()
	ctx := context.Background()
	s, rev, err := c.store.session(ctx, did)
	if err != nil {
		t.Fatal(err)
	}
	f(&s)
	if _, err := c.store.updateSession(ctx, s, rev); err != nil {
		t.Fatal(err)
	}
}

package oauth

import (
	"testing"

	"github.com/latency-fabric/alf/internal/seal"
	"github.com/nats-io/nats.go/jetstream"
)

// SeedClientKey stores the tests' fixed client key in js's buckets (see
// seedClientKey), for the tests of package oauth_test.
func SeedClientKey(t *testing.T, js jetstream.JetStream, key seal.Key) {
	t.Helper()
	b, err := OpenBuckets(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	seedClientKey(t, b, key)
}

package oauth

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/seal"
)

// TestClientKeySharedAndKept: gateways starting at once agree on one key,
// a restart keeps it, and it is sealed at rest.
func TestClientKeySharedAndKept(t *testing.T) {
	t.Parallel()
	b := testBuckets(t, natstest.Provisioned(t))
	key, _ := seal.NewKey()
	cfg := Config{ServiceURL: "https://alf.example.com", Key: key, Buckets: b}

	var wg sync.WaitGroup
	clients := make([]*Client, 4)
	errs := make([]error, len(clients))
	for i := range clients {
		wg.Go(func() { clients[i], errs[i] = New(ctx, cfg) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	first := jwksOf(t, clients[0])
	for _, c := range clients[1:] {
		if got := jwksOf(t, c); got != first {
			t.Errorf("gateways disagree on the client key: %s vs %s", got, first)
		}
	}
	if got := jwksOf(t, newClient(t, cfg)); got != first {
		t.Errorf("a restart changed the client key")
	}

	raw, err := b.Keys.Get(ctx, clientKeyKey)
	if err != nil {
		t.Fatal(err)
	}
	var zero seal.Key
	if _, err := zero.Open(string(raw.Value())); err == nil || strings.Contains(string(raw.Value()), "private") {
		t.Error("client key is not sealed")
	}
	other, _ := seal.NewKey()
	cfg.Key = other
	if _, err := New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "ENCRYPTION_KEY") {
		t.Errorf("New with another ENCRYPTION_KEY = %v; want an error naming it", err)
	}
	if got := jwksOf(t, clients[0]); got != first {
		t.Error("a failed start replaced the key")
	}
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	key, _ := seal.NewKey()
	sealed, err := newClientKey(key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k, err := openClientKey(key, sealed)
	if err != nil {
		t.Fatal(err)
	}
	id, err := keyID(k.priv)
	if err != nil || id != k.id || !strings.HasPrefix(id, "alf-") || len(id) != 20 {
		t.Errorf("key id %q (%v), stored %q", id, err, k.id)
	}
}

func jwksOf(t *testing.T, c *Client) string {
	t.Helper()
	set, err := c.JWKS()
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS = %+v, %v", set, err)
	}
	k := set.Keys[0]
	return k.Kid + ":" + k.X + ":" + k.Y
}

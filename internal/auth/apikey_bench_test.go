package auth_test

import (
	"context"
	"testing"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
)

// BenchmarkVerifyAPIKey measures one call authenticated with an alf API
// key: "cached" within the key's cache age (a map lookup), "kv" a KV read
// each time (the first call on a gateway, or after the cache age).
func BenchmarkVerifyAPIKey(b *testing.B) {
	ctx := context.Background()
	js := natstest.Provisioned(b)
	kv, err := js.KeyValue(ctx, events.BucketAPIKeys)
	if err != nil {
		b.Fatal(err)
	}
	id := authtest.NewIdentity(b)
	keys := auth.NewAPIKeys(kv)
	secret, _, err := keys.Create(ctx, id.DID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	header := "Bearer " + secret
	b.Run("cached", func(b *testing.B) {
		v := auth.NewVerifier(aud, authtest.Directory(id)).WithAPIKeys(keys)
		for b.Loop() {
			if _, err := v.Verify(ctx, header, lxm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kv", func(b *testing.B) {
		for b.Loop() {
			v := auth.NewVerifier(aud, authtest.Directory(id)).WithAPIKeys(auth.NewAPIKeys(kv))
			if _, err := v.Verify(ctx, header, lxm); err != nil {
				b.Fatal(err)
			}
		}
	})
}

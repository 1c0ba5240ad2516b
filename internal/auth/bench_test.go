package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
)

// BenchmarkVerify measures one authenticated call: "cached" reuses one
// token (the common client pattern), "uncached" presents a fresh token each
// time, so every call pays a signature check.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	k256 := authtest.NewIdentity(b)
	p256 := authtest.NewIdentityP256(b)
	dir := authtest.Directory(k256, p256)

	b.Run("cached", func(b *testing.B) {
		v := auth.NewVerifier(aud, dir)
		header := k256.Header(b, aud, lxm)
		for b.Loop() {
			if _, err := v.Verify(ctx, header, lxm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		v := auth.NewVerifier(aud, dir)
		header := k256.Header(b, aud, lxm)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, header, lxm); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, tc := range []struct {
		name string
		id   *authtest.Identity
	}{{"uncached-ES256K", k256}, {"uncached-ES256", p256}} {
		b.Run(tc.name, func(b *testing.B) {
			v := auth.NewVerifier(aud, dir)
			headers := make([]string, b.N)
			for i := range headers {
				headers[i] = "Bearer " + tc.id.Token(b, aud, lxm, time.Hour)
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Verify(ctx, headers[i], lxm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

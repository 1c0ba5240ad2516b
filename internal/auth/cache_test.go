package auth

import (
	"context"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func key(i int) [32]byte { return [32]byte{byte(i), byte(i >> 8)} }

func TestTokenCacheExpiry(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		exp     time.Duration // token exp after put
		after   time.Duration // lookup time after put
		present bool
	}{
		{"live", time.Minute, 59 * time.Second, true},
		{"at exp", time.Minute, time.Minute, false},
		{"after exp", time.Minute, 2 * time.Minute, false},
		{"already expired", -time.Second, 0, false},
		{"long exp capped", time.Hour, maxCacheAge - time.Second, true},
		{"long exp dropped at cap", time.Hour, maxCacheAge, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: start}
			c := newTokenCache(8, clk.now)
			c.put(key(1), cacheEntry{did: "did:plc:a", lxm: "a.b.c", exp: start.Add(tc.exp)})
			clk.t = start.Add(tc.after)
			e, ok := c.get(key(1))
			if ok != tc.present {
				t.Fatalf("present = %v, want %v", ok, tc.present)
			}
			if ok && e.did != "did:plc:a" {
				t.Fatalf("entry %+v", e)
			}
			if !ok && c.len() != 0 {
				t.Fatalf("expired entry kept: %d entries", c.len())
			}
		})
	}
}

func TestTokenCacheBounded(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	const max = 64
	c := newTokenCache(max, clk.now)
	for i := range 10 * max {
		c.put(key(i), cacheEntry{did: "did:plc:a", exp: start.Add(time.Minute)})
		if c.len() > max {
			t.Fatalf("after %d puts the cache holds %d > %d", i+1, c.len(), max)
		}
	}
	if _, ok := c.get(key(10*max - 1)); !ok {
		t.Fatal("the newest entry was evicted")
	}
	// Expired entries are what goes first.
	clk.t = start.Add(2 * time.Minute)
	c.put(key(1<<15), cacheEntry{did: "did:plc:b", exp: clk.t.Add(time.Minute)})
	if n := c.len(); n != 1 {
		t.Fatalf("after expiry and one put the cache holds %d, want 1", n)
	}
}

// purgeCounter counts purges reaching the inner directory.
type purgeCounter struct {
	identity.Directory
	n int
}

func (p *purgeCounter) Purge(context.Context, syntax.AtIdentifier) error { p.n++; return nil }

func TestPurgeThrottle(t *testing.T) {
	t.Parallel()
	inner := &purgeCounter{Directory: identity.NewMockDirectory()}
	p := newPurgeThrottle(inner, time.Hour)
	a := syntax.DID("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").AtIdentifier()
	b := syntax.DID("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb").AtIdentifier()
	ctx := context.Background()
	for range 5 {
		_ = p.Purge(ctx, a)
	}
	_ = p.Purge(ctx, b)
	if inner.n != 2 {
		t.Fatalf("5 purges of one DID and 1 of another reached the directory %d times, want 2", inner.n)
	}
	if !p.allow(a, time.Now().Add(2*time.Hour)) {
		t.Fatal("purge refused after the interval")
	}
}

package auth

import (
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// cacheEntry is what a verified token proved.
type cacheEntry struct {
	did syntax.DID
	lxm string
	exp time.Time
}

// tokenCache remembers verified tokens by the SHA-256 of their text, each
// until its exp (at most maxCacheAge after it was verified). It holds at
// most max entries.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[[32]byte]cacheEntry
}

func newTokenCache(max int, now func() time.Time) *tokenCache {
	return &tokenCache{max: max, now: now, entries: make(map[[32]byte]cacheEntry)}
}

// get returns the live entry for key; an expired one is dropped.
func (c *tokenCache) get(key [32]byte) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return cacheEntry{}, false
	}
	if !c.now().Before(e.exp) {
		delete(c.entries, key)
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e under key, making room first when the cache is full.
func (c *tokenCache) put(key [32]byte, e cacheEntry) {
	now := c.now()
	if limit := now.Add(maxCacheAge); e.exp.After(limit) {
		e.exp = limit
	}
	if !now.Before(e.exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
}

// evict drops expired entries, then arbitrary ones until an eighth of the
// cache is free.
func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.exp) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max-c.max/8 {
			return
		}
		delete(c.entries, k)
	}
}

// len reports the number of entries, live or not.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

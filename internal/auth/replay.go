package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// replayCache remembers DPoP proofs (by jti and the thumbprint of the key
// that signed them) until they are too old to be accepted anyway. It holds
// at most max proofs; when that many are still live it refuses new ones
// rather than forget one that could then be replayed. Only proofs that
// passed every other check are recorded, so only holders of valid tokens
// can fill it.
type replayCache struct {
	mu        sync.Mutex
	max       int
	seen      map[[32]byte]time.Time // proof → when it stops being acceptable
	lastSweep time.Time
	sweepGap  time.Duration
}

func newReplayCache(max int, sweepGap time.Duration) *replayCache {
	return &replayCache{max: max, seen: make(map[[32]byte]time.Time), sweepGap: sweepGap}
}

// replayResult says what first did with a proof.
type replayResult int

const (
	proofFresh    replayResult = iota // first use, now recorded
	proofReplayed                     // seen before and still live
	proofsFull                        // cache full of live proofs
)

// first records the proof (jkt, jti) as used until expires and reports
// whether it was new.
func (c *replayCache) first(jkt, jti string, now, expires time.Time) replayResult {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var key [32]byte
	h.Sum(key[:0])

	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[key]; ok && now.Before(until) {
		return proofReplayed
	}
	if len(c.seen) >= c.max || now.Sub(c.lastSweep) >= c.sweepGap {
		c.sweep(now)
	}
	if len(c.seen) >= c.max {
		return proofsFull
	}
	c.seen[key] = expires
	return proofFresh
}

// sweep drops the proofs that can no longer be accepted.
func (c *replayCache) sweep(now time.Time) {
	c.lastSweep = now
	for k, until := range c.seen {
		if !now.Before(until) {
			delete(c.seen, k)
		}
	}
}

func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

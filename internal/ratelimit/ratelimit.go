// Package ratelimit bounds how often one client, an IP address or an
// account, may call alf: a token bucket per key, refilled at a steady rate
// with room for a burst. A refused call learns how long to wait, for a 429
// with Retry-After.
//
//	perIP := ratelimit.New(600, 120) // 600 calls a minute, bursts of 120
//	if ok, wait := perIP.Allow(clientIP); !ok {
//		w.Header().Set("Retry-After", ratelimit.Seconds(wait))
//		w.WriteHeader(http.StatusTooManyRequests)
//	}
//
// The buckets of idle keys are dropped when the limiter holds too many, so
// a flood of distinct keys costs memory only up to a bound.
package ratelimit

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds the buckets a limiter keeps.
const maxKeys = 100_000

// Limiter is a set of token buckets by key. The zero of New's perMinute
// makes a limiter that allows everything. It is safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns a limiter allowing perMinute calls a minute for each key, in
// bursts of up to burst (at least 1). perMinute 0 allows everything.
func New(perMinute, burst int) *Limiter {
	return &Limiter{
		limit:   rate.Limit(float64(perMinute) / 60),
		burst:   max(burst, 1),
		now:     time.Now,
		buckets: make(map[string]*rate.Limiter),
	}
}

// Allow takes one call from key's bucket, or says how long until one is
// there.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.limit == 0 {
		return true, 0
	}
	now := l.now()
	b := l.bucket(key, now)
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *Limiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if ok {
		return b
	}
	if len(l.buckets) >= maxKeys {
		l.dropIdle(now)
	}
	b = rate.NewLimiter(l.limit, l.burst)
	l.buckets[key] = b
	return b
}

// dropIdle forgets the buckets that are full again: their keys have not
// called for a while, and a fresh bucket would be the same.
func (l *Limiter) dropIdle(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxKeys { // all busy: start over rather than grow
		clear(l.buckets)
	}
}

// Seconds is a wait as a Retry-After value: whole seconds, at least 1.
func Seconds(wait time.Duration) string {
	s := int((wait + time.Second - 1) / time.Second)
	return strconv.Itoa(max(s, 1))
}

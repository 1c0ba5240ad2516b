package auth

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// NewDirectory returns a cached indigo identity directory resolving did:plc
// through the PLC directory at plcRoot (and did:web over HTTPS). Handles are
// not verified: service auth needs only the DID document's signing key. A nil
// hc gets a client with a 10 s timeout.
func NewDirectory(plcRoot string, hc *http.Client) identity.Directory {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	base := &identity.BaseDirectory{
		PLCURL:                 plcRoot,
		HTTPClient:             *hc,
		SkipHandleVerification: true,
		UserAgent:              "alf",
	}
	return identity.NewCacheDirectory(base, 100_000, time.Hour, 2*time.Minute, 5*time.Minute)
}

// purgeThrottle is a Directory whose Purge acts at most once per identifier
// per interval. indigo's validator purges the issuer on every bad
// signature; without this, each forged token would cost a PLC fetch.
type purgeThrottle struct {
	identity.Directory
	every time.Duration

	mu   sync.Mutex
	last map[syntax.AtIdentifier]time.Time
}

func newPurgeThrottle(dir identity.Directory, every time.Duration) *purgeThrottle {
	return &purgeThrottle{Directory: dir, every: every, last: make(map[syntax.AtIdentifier]time.Time)}
}

// Purge forwards to the inner directory unless a recent purge did already.
func (p *purgeThrottle) Purge(ctx context.Context, id syntax.AtIdentifier) error {
	if !p.allow(id, time.Now()) {
		return nil
	}
	return p.Directory.Purge(ctx, id)
}

func (p *purgeThrottle) allow(id syntax.AtIdentifier, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.last[id]; ok && now.Sub(t) < p.every {
		return false
	}
	if len(p.last) >= maxCached {
		p.forget(now)
	}
	p.last[id] = now
	return true
}

// forget drops purge times older than the interval.
func (p *purgeThrottle) forget(now time.Time) {
	for k, t := range p.last {
		if now.Sub(t) >= p.every {
			delete(p.last, k)
		}
	}
	if len(p.last) >= maxCached {
		clear(p.last)
	}
}

package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
)

const (
	// maxMetadataLen bounds a fetched metadata document or JWKS.
	maxMetadataLen = 256 << 10
	// maxJWKSKeys bounds the keys kept from one JWKS.
	maxJWKSKeys = 32
	// failTTL is how long a failed metadata or JWKS fetch is remembered, so
	// tokens naming a broken or hostile PDS cannot make alf fetch again and
	// again.
	failTTL = 30 * time.Second
	// kidRefetchEvery bounds how often a token with an unknown kid may make
	// alf refetch an issuer's JWKS.
	kidRefetchEvery = 30 * time.Second
)

// resourceServer is what a PDS's OAuth protected-resource metadata says.
type resourceServer struct {
	issuer string // authorization_servers[0]
}

// issuerKeys is an authorization server's metadata and signing keys.
type issuerKeys struct {
	issuer  string
	jwksURI string

	mu        sync.Mutex
	keys      []jwksKey
	lastFetch time.Time // of the JWKS, for the kid refetch limit
}

// jwksKey is one usable key of a JWKS.
type jwksKey struct {
	kid string
	alg string // the key's own alg, or "" when it does not say
	pub atcrypto.PublicKey
}

// metadataFetcher fetches and caches, per PDS and per issuer, the documents
// that lead from a DID document's PDS endpoint to the keys signing its
// access tokens. Cache keys are URLs read from DID documents and from the
// documents those lead to, never from a token.
type metadataFetcher struct {
	hc        *http.Client
	allowHTTP bool
	now       func() time.Time

	resources *fetchCache[*resourceServer]
	issuers   *fetchCache[*issuerKeys]
}

func newMetadataFetcher(hc *http.Client, allowHTTP bool, now func() time.Time, ttl time.Duration, max int) *metadataFetcher {
	return &metadataFetcher{
		hc:        hc,
		allowHTTP: allowHTTP,
		now:       now,
		resources: newFetchCache[*resourceServer](max, ttl, now),
		issuers:   newFetchCache[*issuerKeys](max, ttl, now),
	}
}

// resource returns the protected-resource metadata of the PDS at origin.
func (m *metadataFetcher) resource(ctx context.Context, origin string) (*resourceServer, error) {
	return m.resources.get(ctx, origin, func(ctx context.Context) (*resourceServer, error) {
		var doc struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		if err := m.getJSON(ctx, origin+"/.well-known/oauth-protected-resource", &doc); err != nil {
			return nil, fmt.Errorf("PDS protected-resource metadata: %w", err)
		}
		if res, err := m.origin(doc.Resource); err != nil || res != origin {
			return nil, errors.New("PDS protected-resource metadata names another resource")
		}
		if len(doc.AuthorizationServers) == 0 {
			return nil, errors.New("PDS protected-resource metadata names no authorization server")
		}
		iss := doc.AuthorizationServers[0]
		if o, err := m.origin(iss); err != nil || o != iss {
			return nil, errors.New("PDS authorization server is not an origin URL")
		}
		return &resourceServer{issuer: iss}, nil
	})
}

// issuerKeys returns the metadata and JWKS of the authorization server
// issuer, which must be an origin URL.
func (m *metadataFetcher) issuerKeys(ctx context.Context, issuer string) (*issuerKeys, error) {
	return m.issuers.get(ctx, issuer, func(ctx context.Context) (*issuerKeys, error) {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := m.getJSON(ctx, issuer+"/.well-known/oauth-authorization-server", &doc); err != nil {
			return nil, fmt.Errorf("authorization server metadata: %w", err)
		}
		if doc.Issuer != issuer {
			return nil, errors.New("authorization server metadata names another issuer")
		}
		if _, err := m.checkURL(doc.JWKSURI); err != nil {
			return nil, errors.New("authorization server jwks_uri is not a usable URL")
		}
		ik := &issuerKeys{issuer: issuer, jwksURI: doc.JWKSURI}
		keys, err := m.jwks(ctx, doc.JWKSURI)
		if err != nil {
			return nil, err
		}
		ik.keys, ik.lastFetch = keys, m.now()
		return ik, nil
	})
}

// key returns the issuer's keys usable for alg under kid (all of them for
// alg when kid is empty). When none is known it refetches the JWKS, at most
// once per kidRefetchEvery per issuer, in case the issuer rotated its keys.
func (m *metadataFetcher) key(ctx context.Context, ik *issuerKeys, kid, alg string) []atcrypto.PublicKey {
	ik.mu.Lock()
	found := ik.match(kid, alg)
	refetch := len(found) == 0 && m.now().Sub(ik.lastFetch) >= kidRefetchEvery
	if refetch {
		ik.lastFetch = m.now()
	}
	ik.mu.Unlock()
	if !refetch {
		return found
	}
	keys, err := m.jwks(context.WithoutCancel(ctx), ik.jwksURI)
	if err != nil {
		return nil
	}
	ik.mu.Lock()
	defer ik.mu.Unlock()
	ik.keys = keys
	return ik.match(kid, alg)
}

func (ik *issuerKeys) match(kid, alg string) []atcrypto.PublicKey {
	var out []atcrypto.PublicKey
	for _, k := range ik.keys {
		if (kid == "" || k.kid == kid) && (k.alg == "" || k.alg == alg) {
			out = append(out, k.pub)
		}
	}
	return out
}

// jwks fetches a JWKS and keeps its public EC signing keys on P-256 and
// secp256k1; other keys are skipped.
func (m *metadataFetcher) jwks(ctx context.Context, uri string) ([]jwksKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := m.getJSON(ctx, uri, &doc); err != nil {
		return nil, fmt.Errorf("authorization server JWKS: %w", err)
	}
	var keys []jwksKey
	for _, raw := range doc.Keys {
		if len(keys) == maxJWKSKeys {
			break
		}
		var k ecJWK
		if json.Unmarshal(raw, &k) != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if len(k.KeyOps) > 0 && !slices.Contains(k.KeyOps, "verify") {
			continue
		}
		if k.Alg != "" && curveOf[k.Alg] != k.Crv {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			continue
		}
		keys = append(keys, jwksKey{kid: k.Kid, alg: k.Alg, pub: pub})
	}
	return keys, nil
}

// getJSON GETs uri and decodes its JSON body into v. It wants exactly 200,
// follows no redirect and reads at most maxMetadataLen bytes.
func (m *metadataFetcher) getJSON(ctx context.Context, uri string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "alf")
	resp, err := m.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataLen+1))
	if err != nil {
		return err
	}
	if len(body) > maxMetadataLen {
		return errors.New("document too large")
	}
	return decodeObject(body, v)
}

// checkURL parses an absolute https URL (http too when allowed) with a host
// and no user info or fragment.
func (m *metadataFetcher) checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "https" && !(m.allowHTTP && u.Scheme == "http"):
		return nil, errors.New("scheme must be https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("no host")
	case u.User != nil, u.Fragment != "", u.Opaque != "":
		return nil, errors.New("not a plain URL")
	}
	return u, nil
}

// origin returns the scheme://host[:port] of s, which may have only an
// empty or "/" path and no query.
func (m *metadataFetcher) origin(s string) (string, error) {
	u, err := m.checkURL(s)
	if err != nil {
		return "", err
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
		return "", errors.New("not an origin")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// fetchCache caches one fetched value per key for ttl (failures for
// failTTL), holds at most max keys, and fetches each key once however many
// callers want it at the same time.
type fetchCache[V any] struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	entries map[string]*fetchEntry[V]
	fetches int // loads started, for tests
}

type fetchEntry[V any] struct {
	ready   chan struct{} // closed once val, err and expires are set
	val     V
	err     error
	expires time.Time
}

func newFetchCache[V any](max int, ttl time.Duration, now func() time.Time) *fetchCache[V] {
	return &fetchCache[V]{max: max, ttl: ttl, now: now, entries: make(map[string]*fetchEntry[V])}
}

func (e *fetchEntry[V]) done() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// get returns the cached value for key, loading it when missing or stale.
// The load runs detached from ctx's cancellation (the HTTP client's timeout
// bounds it) so one impatient caller cannot fail the others waiting on it.
func (c *fetchCache[V]) get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[key]
	if e == nil || (e.done() && !now.Before(e.expires)) {
		e = &fetchEntry[V]{ready: make(chan struct{})}
		if len(c.entries) >= c.max {
			c.evict(now)
		}
		c.entries[key] = e
		c.fetches++
		c.mu.Unlock()
		e.val, e.err = load(context.WithoutCancel(ctx))
		ttl := c.ttl
		if e.err != nil {
			ttl = min(ttl, failTTL)
		}
		e.expires = c.now().Add(ttl)
		close(e.ready)
		return e.val, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.val, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// evict drops stale entries, then arbitrary ones until an eighth of the
// cache is free.
func (c *fetchCache[V]) evict(now time.Time) {
	for k, e := range c.entries {
		if e.done() && !now.Before(e.expires) {
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

func (c *fetchCache[V]) stats() (entries, fetches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.fetches
}

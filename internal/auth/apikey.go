package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// API keys are alf's own credentials for bots and scripts: a random secret
// (`alf_` and 52 base32 characters, 256 bits) shown once when it is made,
// sent as `Authorization: Bearer alf_…`, and scoped to the account that
// made it. alf keeps only its SHA-256, in the KV bucket alf_api_keys:
//
//	h.<hash>          → the key's account and id (what Verify looks up)
//	k.<acct>.<id>     → its hash, name and creation time (what List shows)
//
// A key may call every method of its account except those that manage
// keys, connect the account or delete it. A revoked key stops working at
// once on the gateway that revoked it and within apiKeyCacheAge on the
// others.

// APIKeyPrefix starts every API key.
const APIKeyPrefix = "alf_"

// apiKeyCacheAge bounds how long a verified key is trusted without a KV
// read, and so how long a revocation takes to reach every gateway.
const apiKeyCacheAge = 5 * time.Second

// maxAPIKeys bounds the keys of one account.
const maxAPIKeys = 50

// keyManagement are the methods an API key may not call.
var keyManagement = map[string]bool{
	"alf.v1.AccountService.CreateApiKey":       true,
	"alf.v1.AccountService.RevokeApiKey":       true,
	"alf.v1.AccountService.DeleteAccount":      true,
	"alf.v1.AccountService.ConnectAppPassword": true,
}

// APIKey describes a key; it never holds the secret.
type APIKey struct {
	ID        string
	Name      string
	DID       syntax.DID
	CreatedAt time.Time
}

// APIKeys stores API keys. It is safe for concurrent use.
type APIKeys struct {
	kv  jetstream.KeyValue
	now func() time.Time

	mu    sync.Mutex
	cache map[string]apiKeyHit // hash → account, recently verified
}

type apiKeyHit struct {
	did syntax.DID
	exp time.Time
}

// ErrAPIKeyNotFound: no key of the account has that id.
var ErrAPIKeyNotFound = errors.New("API key not found")

// NewAPIKeys keeps keys in kv (the alf_api_keys bucket).
func NewAPIKeys(kv jetstream.KeyValue) *APIKeys {
	return &APIKeys{kv: kv, now: time.Now, cache: make(map[string]apiKeyHit)}
}

type keyRef struct {
	DID string `json:"did"`
	ID  string `json:"id"`
}

type keyInfo struct {
	Hash      string    `json:"hash"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Create makes a key for did and returns its secret, shown this once.
func (k *APIKeys) Create(ctx context.Context, did syntax.DID, name string) (string, APIKey, error) {
	if name == "" || len(name) > 100 {
		return "", APIKey{}, errors.New("an API key needs a name of 1 to 100 characters")
	}
	have, err := k.List(ctx, did)
	if err != nil {
		return "", APIKey{}, err
	}
	if len(have) >= maxAPIKeys {
		return "", APIKey{}, fmt.Errorf("an account has at most %d API keys; revoke one first", maxAPIKeys)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := APIKeyPrefix + strings.ToLower(keyEncoding.EncodeToString(b[:]))
	key := APIKey{ID: events.NewID()[:16], Name: name, DID: did, CreatedAt: k.now().UTC().Truncate(time.Millisecond)}
	hash := hashKey(secret)
	ref, _ := json.Marshal(keyRef{DID: did.String(), ID: key.ID})
	info, _ := json.Marshal(keyInfo{Hash: hash, Name: name, CreatedAt: key.CreatedAt})
	if _, err := k.kv.Create(ctx, "h."+hash, ref); err != nil {
		return "", APIKey{}, fmt.Errorf("store API key: %w", err)
	}
	if _, err := k.kv.Create(ctx, infoKey(did, key.ID), info); err != nil {
		_ = k.kv.Purge(ctx, "h."+hash)
		return "", APIKey{}, fmt.Errorf("store API key: %w", err)
	}
	return secret, key, nil
}

// List returns did's keys, oldest first.
func (k *APIKeys) List(ctx context.Context, did syntax.DID) ([]APIKey, error) {
	lister, err := k.kv.ListKeysFiltered(ctx, "k."+events.AccountToken(did.String())+".*")
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	var out []APIKey
	for name := range lister.Keys() {
		id := name[strings.LastIndexByte(name, '.')+1:]
		info, err := k.info(ctx, did, id)
		if errors.Is(err, ErrAPIKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, APIKey{ID: id, Name: info.Name, DID: did, CreatedAt: info.CreatedAt})
	}
	sortKeys(out)
	return out, nil
}

func sortKeys(keys []APIKey) {
	slices.SortFunc(keys, func(a, b APIKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
}

func (k *APIKeys) info(ctx context.Context, did syntax.DID, id string) (keyInfo, error) {
	e, err := k.kv.Get(ctx, infoKey(did, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return keyInfo{}, ErrAPIKeyNotFound
	}
	if err != nil {
		return keyInfo{}, fmt.Errorf("read API key: %w", err)
	}
	var info keyInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return keyInfo{}, fmt.Errorf("read API key: %w", err)
	}
	return info, nil
}

// Revoke removes one of did's keys.
func (k *APIKeys) Revoke(ctx context.Context, did syntax.DID, id string) error {
	if !validKeyID(id) {
		return ErrAPIKeyNotFound
	}
	info, err := k.info(ctx, did, id)
	if err != nil {
		return err
	}
	k.mu.Lock()
	delete(k.cache, info.Hash)
	k.mu.Unlock()
	if err := k.kv.Purge(ctx, "h."+info.Hash); err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	if err := k.kv.Purge(ctx, infoKey(did, id)); err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	return nil
}

// DeleteAccount revokes every key of did.
func (k *APIKeys) DeleteAccount(ctx context.Context, did syntax.DID) error {
	keys, err := k.List(ctx, did)
	if err != nil {
		return err
	}
	var errs []error
	for _, key := range keys {
		if err := k.Revoke(ctx, did, key.ID); err != nil && !errors.Is(err, ErrAPIKeyNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lookup returns the account of a key's secret.
func (k *APIKeys) lookup(ctx context.Context, secret string) (syntax.DID, error) {
	hash := hashKey(secret)
	now := k.now()
	k.mu.Lock()
	hit, ok := k.cache[hash]
	k.mu.Unlock()
	if ok && now.Before(hit.exp) {
		return hit.did, nil
	}
	e, err := k.kv.Get(ctx, "h."+hash)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", refuse("API key is unknown or revoked")
	}
	if err != nil {
		return "", refuse("API keys cannot be checked right now")
	}
	var ref keyRef
	if err := json.Unmarshal(e.Value(), &ref); err != nil {
		return "", refuse("API key is unknown or revoked")
	}
	did, err := syntax.ParseDID(ref.DID)
	if err != nil {
		return "", refuse("API key is unknown or revoked")
	}
	k.mu.Lock()
	if len(k.cache) >= maxCached {
		clear(k.cache)
	}
	k.cache[hash] = apiKeyHit{did: did, exp: now.Add(apiKeyCacheAge)}
	k.mu.Unlock()
	return did, nil
}

func hashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func infoKey(did syntax.DID, id string) string {
	return "k." + events.AccountToken(did.String()) + "." + id
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/seal"
)

// clientKeyKey is the KV key of the client key in the alf_oauth bucket.
const clientKeyKey = "client-key"

// storedKey is the sealed value of alf's client key: the P-256 private key
// that signs client assertions (private_key_jwt).
type storedKey struct {
	KeyID     string    `json:"kid"`
	Private   string    `json:"private"` // multibase
	CreatedAt time.Time `json:"createdAt"`
}

// String keeps the private key out of logs.
func (storedKey) String() string { return "oauth.clientKey(redacted)" }

// GoString keeps the private key out of %#v.
func (storedKey) GoString() string { return "oauth.clientKey(redacted)" }

// clientKey is the loaded client key.
type clientKey struct {
	id   string
	priv *atcrypto.PrivateKeyP256
}

// loadClientKey returns the deployment's client key, creating it on first
// use. Two gateways starting at once agree: the key is created with
// kv.Create, and the loser of that race reads the winner's key.
func loadClientKey(ctx context.Context, kv jetstream.KeyValue, sk seal.Key, now time.Time) (clientKey, error) {
	for range 2 {
		e, err := kv.Get(ctx, clientKeyKey)
		if err == nil {
			return openClientKey(sk, e.Value())
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return clientKey{}, fmt.Errorf("load OAuth client key: %w", err)
		}
		sealed, err := newClientKey(sk, now)
		if err != nil {
			return clientKey{}, err
		}
		_, err = kv.Create(ctx, clientKeyKey, sealed)
		if err == nil {
			return openClientKey(sk, sealed)
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return clientKey{}, fmt.Errorf("store OAuth client key: %w", err)
		}
		// Another gateway created it first: read theirs.
	}
	return clientKey{}, errors.New("load OAuth client key: created and deleted concurrently")
}

// newClientKey makes a fresh P-256 key and returns it sealed.
func newClientKey(sk seal.Key, now time.Time) ([]byte, error) {
	priv, err := atcrypto.GeneratePrivateKeyP256()
	if err != nil {
		return nil, fmt.Errorf("generate OAuth client key: %w", err)
	}
	return sealClientKey(sk, priv, now)
}

func sealClientKey(sk seal.Key, priv *atcrypto.PrivateKeyP256, now time.Time) ([]byte, error) {
	id, err := keyID(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := sk.SealJSON(storedKey{KeyID: id, Private: priv.Multibase(), CreatedAt: now.UTC()})
	if err != nil {
		return nil, fmt.Errorf("seal OAuth client key: %w", err)
	}
	return sealed, nil
}

func openClientKey(sk seal.Key, sealed []byte) (clientKey, error) {
	var s storedKey
	err := sk.OpenJSON(sealed, &s)
	if errors.Is(err, seal.ErrNotJSON) {
		return clientKey{}, errors.New("OAuth client key is malformed")
	}
	if err != nil {
		return clientKey{}, fmt.Errorf("open OAuth client key (ENCRYPTION_KEY changed?): %w", err)
	}
	priv, err := atcrypto.ParsePrivateMultibase(s.Private)
	if err != nil {
		return clientKey{}, errors.New("OAuth client key is malformed")
	}
	p256, ok := priv.(*atcrypto.PrivateKeyP256)
	if !ok || s.KeyID == "" {
		return clientKey{}, errors.New("OAuth client key is not a P-256 key")
	}
	return clientKey{id: s.KeyID, priv: p256}, nil
}

// keyID names a key by its public half: "alf-" and 16 hex characters of
// the SHA-256 of the compressed public key.
func keyID(priv atcrypto.PrivateKey) (string, error) {
	pub, err := priv.PublicKey()
	if err != nil {
		return "", fmt.Errorf("OAuth client key: %w", err)
	}
	sum := sha256.Sum256(pub.Bytes())
	return "alf-" + hex.EncodeToString(sum[:8]), nil
}

// JWK is a public key as the client's JWKS lists it.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the client's public key set, served at /oauth/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// publicJWKS returns the public half of k (none for a public client).
func (k clientKey) publicJWKS() (JWKS, error) {
	set := JWKS{Keys: []JWK{}}
	if k.priv == nil {
		return set, nil
	}
	pub, err := k.priv.PublicKey()
	if err != nil {
		return set, fmt.Errorf("OAuth client key: %w", err)
	}
	j, err := pub.JWK()
	if err != nil {
		return set, fmt.Errorf("OAuth client key: %w", err)
	}
	set.Keys = append(set.Keys, JWK{Kty: j.KeyType, Crv: j.Curve, X: j.X, Y: j.Y, Kid: k.id, Use: "sig", Alg: "ES256"})
	return set, nil
}

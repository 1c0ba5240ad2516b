// Package seal protects secrets at rest: app passwords, OAuth sessions and
// trigger keys are sealed with AES-256-GCM before they reach a KV bucket, and
// trigger keys are looked up by an HMAC-SHA256 of the key.
//
// The key is the 32 bytes of ENCRYPTION_KEY (64 hex characters). The sealed
// text format is the reference service's, so existing data stays readable:
// base64(iv):base64(tag):base64(ciphertext), with a random 12-byte IV, a
// 16-byte tag and no additional data.
//
//	key, err := seal.ParseKey(os.Getenv("ENCRYPTION_KEY"))
//	sealed, err := key.Seal([]byte(appPassword))
//	plain, err := key.Open(sealed)
//	hash := key.HMAC(triggerKey)
//
// ENCRYPTION_KEY can be rotated: a key made WithOld(earlier keys…) seals
// with itself only, and opens (and matches HMACs of) values made with any
// of them, so what was sealed before is resealed with the new key the next
// time it is written.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const (
	keySize = 32
	ivSize  = 12
	tagSize = 16
)

// ErrMalformed reports sealed text that is not iv:tag:ciphertext in base64.
var ErrMalformed = errors.New("seal: invalid encrypted string format")

// ErrNotJSON reports sealed text that opened but is not the JSON of the
// value OpenJSON decodes into.
var ErrNotJSON = errors.New("seal: sealed value is not the expected JSON")

// ErrOpen reports sealed text that does not authenticate under the key:
// tampered with, truncated, or sealed with another key.
var ErrOpen = errors.New("seal: message authentication failed")

// Key is an AES-256-GCM and HMAC-SHA256 key. Its bytes never print.
type Key struct {
	b   [keySize]byte
	old []Key // earlier keys that still open sealed values
}

// ParseKey parses the 64 hex characters of ENCRYPTION_KEY. The error never
// contains the value.
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	if len(s) != 2*keySize {
		return k, fmt.Errorf("ENCRYPTION_KEY must be %d hex characters (32 bytes), got %d characters", 2*keySize, len(s))
	}
	if _, err := hex.Decode(k.b[:], []byte(s)); err != nil {
		return Key{}, errors.New("ENCRYPTION_KEY must be hex (0-9, a-f)")
	}
	return k, nil
}

// NewKey returns a fresh random key and its hex form, for ENCRYPTION_KEY.
func NewKey() (Key, string) {
	var k Key
	rand.Read(k.b[:]) // never returns an error (crypto/rand, Go ≥ 1.24)
	return k, hex.EncodeToString(k.b[:])
}

// String keeps the key out of logs and error messages.
func (k Key) String() string { return "seal.Key(redacted)" }

// GoString keeps the key out of %#v.
func (k Key) GoString() string { return "seal.Key(redacted)" }

// Seal encrypts plain under a fresh random IV and returns
// base64(iv):base64(tag):base64(ciphertext).
func (k Key) Seal(plain []byte) (string, error) {
	aead, err := k.aead()
	if err != nil {
		return "", err
	}
	iv := make([]byte, ivSize)
	rand.Read(iv)
	out := aead.Seal(nil, iv, plain, nil)
	ct, tag := out[:len(out)-tagSize], out[len(out)-tagSize:]
	enc := base64.StdEncoding
	return enc.EncodeToString(iv) + ":" + enc.EncodeToString(tag) + ":" + enc.EncodeToString(ct), nil
}

// WithOld returns k that also opens values sealed with the old keys
// (ENCRYPTION_KEYS_OLD), tried after k in order. It still seals with k
// alone.
func (k Key) WithOld(old ...Key) Key {
	k.old = make([]Key, 0, len(old))
	for _, o := range old {
		o.old = nil
		k.old = append(k.old, o)
	}
	return k
}

// Open decrypts text made by Seal (or by the reference service) with the
// key or one of its old keys. It fails with ErrMalformed or ErrOpen.
func (k Key) Open(sealed string) ([]byte, error) {
	iv, tag, ct, err := split(sealed)
	if err != nil {
		return nil, err
	}
	for _, key := range k.all() {
		aead, err := key.aead()
		if err != nil {
			return nil, err
		}
		if plain, err := aead.Open(nil, iv, append(ct[:len(ct):len(ct)], tag...), nil); err == nil {
			return plain, nil
		}
	}
	return nil, ErrOpen
}

// SealJSON encodes v as JSON and seals it: what alf keeps in KV.
func (k Key) SealJSON(v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("seal: encode: %w", err)
	}
	sealed, err := k.Seal(plain)
	if err != nil {
		return nil, err
	}
	return []byte(sealed), nil
}

// OpenJSON opens a value made by SealJSON into v. It fails with
// ErrMalformed, ErrOpen or ErrNotJSON.
func (k Key) OpenJSON(sealed []byte, v any) error {
	plain, err := k.Open(string(sealed))
	if err != nil {
		return err
	}
	if json.Unmarshal(plain, v) != nil {
		return ErrNotJSON
	}
	return nil
}

// all is k, then its old keys.
func (k Key) all() []Key {
	return append([]Key{{b: k.b}}, k.old...)
}

// HMAC returns the lowercase hex HMAC-SHA256 of msg under the key.
func (k Key) HMAC(msg string) string {
	m := hmac.New(sha256.New, k.b[:])
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// HMACs returns the HMAC of msg under the key, then under each old key:
// the names a value may have been stored under.
func (k Key) HMACs(msg string) []string {
	out := make([]string, 0, 1+len(k.old))
	for _, key := range k.all() {
		out = append(out, key.HMAC(msg))
	}
	return out
}

func (k Key) aead() (cipher.AEAD, error) {
	if k.b == ([keySize]byte{}) {
		return nil, errors.New("seal: key not set (use ParseKey or NewKey)")
	}
	block, err := aes.NewCipher(k.b[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

func split(sealed string) (iv, tag, ct []byte, err error) {
	parts := strings.Split(sealed, ":")
	if len(parts) != 3 {
		return nil, nil, nil, ErrMalformed
	}
	var dec [3][]byte
	for i, p := range parts {
		dec[i], err = base64.StdEncoding.DecodeString(p)
		if err != nil {
			return nil, nil, nil, ErrMalformed
		}
	}
	if len(dec[0]) != ivSize || len(dec[1]) != tagSize {
		return nil, nil, nil, ErrMalformed
	}
	return dec[0], dec[1], dec[2], nil
}

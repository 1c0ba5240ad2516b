package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
)

// jws is a compact JWS split and decoded, its signature not yet checked.
type jws struct {
	header       jwsHeader
	payload      []byte
	signingInput []byte // base64url(header) "." base64url(payload)
	signature    []byte
}

// jwsHeader holds the JOSE header fields alf reads. Keys a token names for
// itself (jku, x5u, x5c, and jwk on an access token) are deliberately not
// decoded: they are never used.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	JWK  json.RawMessage `json:"jwk"`  // DPoP proofs only
	Crit json.RawMessage `json:"crit"` // extensions alf does not understand
}

var errMalformed = errors.New("malformed JWS")

// parseJWS splits a compact JWS into its decoded parts. It requires a JSON
// object as header and as payload and refuses critical extensions.
func parseJWS(s string) (*jws, error) {
	h, rest, ok := strings.Cut(s, ".")
	if !ok {
		return nil, errMalformed
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, errMalformed
	}
	headerJSON, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, errMalformed
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return nil, errMalformed
	}
	signature, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return nil, errMalformed
	}
	var t jws
	if err := decodeObject(headerJSON, &t.header); err != nil {
		return nil, errMalformed
	}
	if len(t.header.Crit) != 0 {
		return nil, errMalformed
	}
	if !isObject(payload) {
		return nil, errMalformed
	}
	t.payload = payload
	t.signingInput = []byte(s[:len(h)+1+len(p)])
	t.signature = signature
	return &t, nil
}

// decodeObject unmarshals a JSON object (and nothing else) into v.
func decodeObject(data []byte, v any) error {
	if !isObject(data) {
		return errMalformed
	}
	return json.Unmarshal(data, v)
}

func isObject(data []byte) bool {
	data = bytes.TrimSpace(data)
	return len(data) >= 2 && data[0] == '{' && json.Valid(data)
}

// curveOf is the JWK curve each accepted JWS algorithm signs with.
var curveOf = map[string]string{
	"ES256":  "P-256",
	"ES256K": "secp256k1",
}

// ecJWK is a public elliptic-curve JWK.
type ecJWK struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	Kid    string   `json:"kid,omitempty"`
	Use    string   `json:"use,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
}

var (
	errNotPublicEC = errors.New("not a public EC key on P-256 or secp256k1")
	errPrivateJWK  = errors.New("JWK contains private key material")
)

// parsePublicJWK reads a public EC JWK on P-256 or secp256k1. A JWK
// carrying a private part ("d") is refused.
func parsePublicJWK(raw []byte) (ecJWK, atcrypto.PublicKey, error) {
	var members map[string]json.RawMessage
	if err := decodeObject(raw, &members); err != nil {
		return ecJWK{}, nil, errNotPublicEC
	}
	if _, ok := members["d"]; ok {
		return ecJWK{}, nil, errPrivateJWK
	}
	var k ecJWK
	if err := json.Unmarshal(raw, &k); err != nil {
		return ecJWK{}, nil, errNotPublicEC
	}
	pub, err := k.publicKey()
	if err != nil {
		return ecJWK{}, nil, err
	}
	return k, pub, nil
}

// publicKey is k's point, which must be on k's curve. RFC 7518 wants each
// coordinate as exactly 32 bytes, but indigo's P-256 JWKs drop leading
// zero bytes (about 1 key in 128: atcrypto encodes big.Int.Bytes()) and
// the PDS accepts them, so a shorter coordinate is read as left-padded.
// The thumbprint stays over the members as sent.
func (k ecJWK) publicKey() (atcrypto.PublicKey, error) {
	if k.Kty != "EC" || (k.Crv != "P-256" && k.Crv != "secp256k1") {
		return nil, errNotPublicEC
	}
	x, okX := coordinate(k.X)
	y, okY := coordinate(k.Y)
	if !okX || !okY {
		return nil, errNotPublicEC
	}
	pub, err := atcrypto.ParsePublicJWK(atcrypto.JWK{KeyType: k.Kty, Curve: k.Crv, X: x, Y: y})
	if err != nil {
		return nil, errNotPublicEC
	}
	return pub, nil
}

// coordinate decodes a base64url JWK coordinate of 1 to 32 bytes and
// returns it as 32 bytes, base64url.
func coordinate(s string) (string, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > 32 {
		return "", false
	}
	if len(b) == 32 {
		return s, true
	}
	padded := make([]byte, 32)
	copy(padded[32-len(b):], b)
	return base64.RawURLEncoding.EncodeToString(padded), true
}

// thumbprint is the RFC 7638 SHA-256 JWK thumbprint of k, base64url: the
// hash of its required members in lexicographic order, without whitespace.
// parsePublicJWK has checked that x and y are plain base64url, so no JSON
// escaping is involved.
func (k ecJWK) thumbprint() string {
	canonical := `{"crv":"` + k.Crv + `","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// verify checks t's signature with pub, which must be on the curve of t's
// algorithm. High-S ECDSA signatures are accepted, as JOSE libraries
// (WebCrypto, jose) do not normalise S.
func (t *jws) verify(pub atcrypto.PublicKey) error {
	switch pub.(type) {
	case *atcrypto.PublicKeyP256:
		if t.header.Alg != "ES256" {
			return atcrypto.ErrInvalidSignature
		}
	case *atcrypto.PublicKeyK256:
		if t.header.Alg != "ES256K" {
			return atcrypto.ErrInvalidSignature
		}
	default:
		return atcrypto.ErrInvalidSignature
	}
	if len(t.signature) != 64 {
		return atcrypto.ErrInvalidSignature
	}
	return pub.HashAndVerifyLenient(t.signingInput, t.signature)
}

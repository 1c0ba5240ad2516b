// Package authtest mints real, signed atproto service-auth tokens for tests,
// without a PDS: fresh identities with their own keys, and a directory that
// resolves their DIDs to documents holding those keys.
//
//	alice := authtest.NewIdentity(t)
//	v := auth.NewVerifier(aud, authtest.Directory(alice))
//	req.Header.Set("Authorization", alice.Header(t, aud, "alf.v1.DraftService.CreateDraft"))
package authtest

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	indigoauth "github.com/bluesky-social/indigo/atproto/auth"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Identity is a test account: a did:plc and the private key its DID
// document declares as the atproto signing key.
type Identity struct {
	DID syntax.DID
	Key atcrypto.PrivateKeyExportable
}

// NewIdentity returns an identity with a fresh K-256 key (what PDSes use;
// tokens are ES256K) and a random did:plc.
func NewIdentity(t testing.TB) *Identity {
	t.Helper()
	key, err := atcrypto.GeneratePrivateKeyK256()
	if err != nil {
		t.Fatalf("generate K-256 key: %v", err)
	}
	return &Identity{DID: randomPLC(), Key: key}
}

// NewIdentityP256 is NewIdentity with a P-256 key (tokens are ES256).
func NewIdentityP256(t testing.TB) *Identity {
	t.Helper()
	key, err := atcrypto.GeneratePrivateKeyP256()
	if err != nil {
		t.Fatalf("generate P-256 key: %v", err)
	}
	return &Identity{DID: randomPLC(), Key: key}
}

// randomPLC returns did:plc: and 24 random base32 characters, the shape of
// a real did:plc.
func randomPLC() syntax.DID {
	b := make([]byte, 15)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	return syntax.DID("did:plc:" + strings.ToLower(enc))
}

// Identity returns the parsed DID document of id: its atproto signing key
// as a Multikey, and a placeholder PDS endpoint.
func (id *Identity) Identity() identity.Identity {
	pub, err := id.Key.PublicKey()
	if err != nil {
		panic("authtest: public key of a generated key: " + err.Error())
	}
	return identity.Identity{
		DID:    id.DID,
		Handle: syntax.HandleInvalid,
		Keys: map[string]identity.VerificationMethod{
			"atproto": {Type: "Multikey", PublicKeyMultibase: pub.Multibase()},
		},
		Services: map[string]identity.ServiceEndpoint{
			"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: "https://pds.invalid"},
		},
	}
}

// Directory returns an indigo MockDirectory resolving the identities' DIDs.
func Directory(ids ...*Identity) identity.Directory {
	dir := identity.NewMockDirectory()
	for _, id := range ids {
		dir.Insert(id.Identity())
	}
	return dir
}

// Token returns a service-auth JWT signed by id for audience aud and method
// lxm, expiring after ttl (a negative ttl gives an expired token). An empty
// lxm leaves the claim out.
func (id *Identity) Token(t testing.TB, aud, lxm string, ttl time.Duration) string {
	t.Helper()
	var method *syntax.NSID
	if lxm != "" {
		nsid, err := syntax.ParseNSID(lxm)
		if err != nil {
			t.Fatalf("authtest: lxm %q: %v", lxm, err)
		}
		method = &nsid
	}
	token, err := indigoauth.SignServiceAuth(id.DID, aud, ttl, method, id.Key)
	if err != nil {
		t.Fatalf("authtest: sign service auth: %v", err)
	}
	return token
}

// Header returns an Authorization header value: "Bearer " and a token valid
// for a minute.
func (id *Identity) Header(t testing.TB, aud, lxm string) string {
	t.Helper()
	return "Bearer " + id.Token(t, aud, lxm, time.Minute)
}

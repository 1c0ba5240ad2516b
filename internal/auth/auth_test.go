package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	indigoauth "github.com/bluesky-social/indigo/atproto/auth"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
)

const (
	aud = "did:web:localhost%3A1986"
	lxm = "alf.v1.DraftService.CreateDraft"
)

// signed returns a JWT with exactly the given header alg and claims, signed
// by id's key (alg must be ES256K for a K-256 identity).
func signed(t *testing.T, id *authtest.Identity, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod("ES256K"), c).SignedString(id.Key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func validClaims(id *authtest.Identity) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": id.DID.String(), "aud": aud, "lxm": lxm,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "n",
	}
}

func unsigned(t *testing.T, alg string, c jwt.MapClaims) string {
	t.Helper()
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	body, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SigningString()
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	_, payload, _ := strings.Cut(body, ".")
	return enc(`{"alg":"`+alg+`","typ":"JWT"}`) + "." + payload + "."
}

func tamperSignature(token string) string {
	i := strings.LastIndex(token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(token[i+1:])
	sig[10] ^= 0x01
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	alice := authtest.NewIdentity(t)
	bob := authtest.NewIdentityP256(t)
	mallory := authtest.NewIdentity(t) // not in the directory
	v := auth.NewVerifier(aud, authtest.Directory(alice, bob))

	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(alice)).SignedString([]byte("any secret"))
	if err != nil {
		t.Fatal(err)
	}
	noExp := validClaims(alice)
	delete(noExp, "exp")
	future := validClaims(alice)
	future["iat"] = time.Now().Add(time.Hour).Unix()
	audList := validClaims(alice)
	audList["aud"] = []string{"did:web:other.example", aud}
	forgedIss, err := indigoauth.SignServiceAuth(bob.DID, aud, time.Minute, ptr(syntax.NSID(lxm)), alice.Key)
	if err != nil {
		t.Fatal(err)
	}
	tamperedPayload := func() string {
		tok := alice.Token(t, aud, lxm, time.Minute)
		p := strings.Split(tok, ".")
		c := validClaims(bob)
		body, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SigningString()
		return p[0] + "." + strings.Split(body, ".")[1] + "." + p[2]
	}()

	cases := []struct {
		name   string
		header string
		lxm    string
		want   syntax.DID
		reason string // substring of the refusal
	}{
		{name: "valid ES256K", header: alice.Header(t, aud, lxm), lxm: lxm, want: alice.DID},
		{name: "valid ES256", header: bob.Header(t, aud, lxm), lxm: lxm, want: bob.DID},
		{name: "lower-case scheme", header: "bearer " + alice.Token(t, aud, lxm, time.Minute), lxm: lxm, want: alice.DID},
		{name: "aud among several", header: "Bearer " + signed(t, alice, audList), lxm: lxm, want: alice.DID},
		{name: "missing header", header: "", lxm: lxm, reason: "missing Authorization"},
		{name: "basic scheme", header: "Basic YWxpY2U6cGFzcw==", lxm: lxm, reason: "Bearer"},
		{name: "dpop scheme", header: "DPoP " + alice.Token(t, aud, lxm, time.Minute), lxm: lxm, reason: "Bearer"},
		{name: "bearer without token", header: "Bearer ", lxm: lxm, reason: "Bearer"},
		{name: "two tokens", header: "Bearer a b", lxm: lxm, reason: "Bearer"},
		{name: "not a JWT", header: "Bearer not-a-jwt", lxm: lxm, reason: "well-formed"},
		{name: "expired", header: "Bearer " + alice.Token(t, aud, lxm, -time.Minute), lxm: lxm, reason: "expired"},
		{name: "no exp", header: "Bearer " + signed(t, alice, noExp), lxm: lxm, reason: "exp"},
		{name: "issued in the future", header: "Bearer " + signed(t, alice, future), lxm: lxm, reason: "not valid yet"},
		{name: "wrong aud", header: alice.Header(t, "did:web:elsewhere.example", lxm), lxm: lxm, reason: "audience"},
		{name: "wrong lxm", header: alice.Header(t, aud, "alf.v1.DraftService.DeleteDraft"), lxm: lxm, reason: "lxm"},
		{name: "no lxm", header: alice.Header(t, aud, ""), lxm: lxm, reason: "lxm"},
		{name: "invalid method name", header: alice.Header(t, aud, lxm), lxm: "/alf.v1.DraftService/CreateDraft", reason: "NSID"},
		{name: "alg none", header: "Bearer " + unsigned(t, "none", validClaims(alice)), lxm: lxm, reason: "algorithm"},
		{name: "alg HS256", header: "Bearer " + hs256, lxm: lxm, reason: "algorithm"},
		{name: "unsigned HS256", header: "Bearer " + unsigned(t, "HS256", validClaims(alice)), lxm: lxm, reason: "algorithm"},
		{name: "tampered signature", header: "Bearer " + tamperSignature(alice.Token(t, aud, lxm, time.Minute)), lxm: lxm, reason: "signature"},
		{name: "tampered payload", header: "Bearer " + tamperedPayload, lxm: lxm, reason: "signature"},
		{name: "unknown DID", header: mallory.Header(t, aud, lxm), lxm: lxm, reason: "unknown DID"},
		{name: "signed by A claiming B", header: "Bearer " + forgedIss, lxm: lxm, reason: "signature"},
		{name: "iss not a DID", header: "Bearer " + signed(t, alice, jwt.MapClaims{"iss": "https://evil.example", "aud": aud, "lxm": lxm, "exp": time.Now().Add(time.Minute).Unix()}), lxm: lxm, reason: "iss"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			did, err := v.Verify(context.Background(), tc.header, tc.lxm)
			if tc.reason == "" {
				if err != nil || did != tc.want {
					t.Fatalf("Verify = %q, %v; want %q", did, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token as %q; want refusal (%s)", did, tc.reason)
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("error %v does not wrap ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			assertNoTokenText(t, err.Error(), tc.header)
		})
	}
}

// assertNoTokenText fails if msg contains any dot-separated part of the
// token in header (or a 12-character piece of one).
func assertNoTokenText(t *testing.T, msg, header string) {
	t.Helper()
	_, token, _ := strings.Cut(header, " ")
	for part := range strings.SplitSeq(token, ".") {
		for i := 0; i+12 <= len(part); i += 6 {
			if strings.Contains(msg, part[i:i+12]) {
				t.Fatalf("error %q contains token text %q", msg, part[i:i+12])
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// countingDir counts DID lookups.
type countingDir struct {
	identity.Directory
	lookups atomic.Int64
}

func (d *countingDir) LookupDID(ctx context.Context, did syntax.DID) (*identity.Identity, error) {
	d.lookups.Add(1)
	return d.Directory.LookupDID(ctx, did)
}

func TestVerifyCachesVerifiedTokens(t *testing.T) {
	t.Parallel()
	alice := authtest.NewIdentity(t)
	dir := &countingDir{Directory: authtest.Directory(alice)}
	v := auth.NewVerifier(aud, dir)
	header := alice.Header(t, aud, lxm)
	ctx := context.Background()

	for range 3 {
		did, err := v.Verify(ctx, header, lxm)
		if err != nil || did != alice.DID {
			t.Fatalf("Verify = %q, %v", did, err)
		}
	}
	if n := dir.lookups.Load(); n != 1 {
		t.Errorf("3 calls with one token resolved the DID %d times, want 1", n)
	}
	if _, err := v.Verify(ctx, header, "alf.v1.DraftService.DeleteDraft"); err == nil {
		t.Error("cached token accepted for another lxm")
	}
	if _, err := v.Verify(ctx, "Bearer "+tamperSignature(strings.TrimPrefix(header, "Bearer ")), lxm); err == nil {
		t.Error("tampered copy of a cached token accepted")
	}
}

func TestVerifyRefusesBeforeResolving(t *testing.T) {
	t.Parallel()
	alice := authtest.NewIdentity(t)
	dir := &countingDir{Directory: authtest.Directory(alice)}
	v := auth.NewVerifier(aud, dir)
	ctx := context.Background()
	for _, h := range []string{
		alice.Header(t, "did:web:elsewhere.example", lxm),
		alice.Header(t, aud, "alf.v1.DraftService.DeleteDraft"),
		"Bearer " + alice.Token(t, aud, lxm, -time.Minute),
	} {
		if _, err := v.Verify(ctx, h, lxm); err == nil {
			t.Fatal("bad token accepted")
		}
	}
	if n := dir.lookups.Load(); n != 0 {
		t.Errorf("obviously bad tokens caused %d DID lookups, want 0", n)
	}
}

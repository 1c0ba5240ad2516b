package authtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	indigoauth "github.com/bluesky-social/indigo/atproto/auth"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/authtest"
)

const aud = "did:web:localhost%3A1986"

func TestTokensVerifyWithIndigo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		id   *authtest.Identity
		alg  string
	}{
		{"K-256", authtest.NewIdentity(t), "ES256K"},
		{"P-256", authtest.NewIdentityP256(t), "ES256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := syntax.ParseDID(tc.id.DID.String()); err != nil || !strings.HasPrefix(tc.id.DID.String(), "did:plc:") || len(tc.id.DID) != len("did:plc:")+24 {
				t.Fatalf("DID %q is not shaped like a did:plc (%v)", tc.id.DID, err)
			}
			v := indigoauth.ServiceAuthValidator{Audience: aud, Dir: authtest.Directory(tc.id)}
			lxm := syntax.NSID("alf.v1.DraftService.CreateDraft")
			header := tc.id.Header(t, aud, lxm.String())
			token, ok := strings.CutPrefix(header, "Bearer ")
			if !ok {
				t.Fatalf("header %q lacks the Bearer scheme", header)
			}
			did, err := v.Validate(context.Background(), token, &lxm)
			if err != nil || did != tc.id.DID {
				t.Fatalf("Validate = %q, %v; want %s", did, err, tc.id.DID)
			}
			if _, err := v.Validate(context.Background(), tc.id.Token(t, aud, lxm.String(), -time.Minute), &lxm); err == nil {
				t.Fatal("a token with negative ttl validated")
			}
		})
	}
}

func TestIdentitiesAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := authtest.NewIdentity(t), authtest.NewIdentity(t)
	if a.DID == b.DID || a.Key.Equal(b.Key) {
		t.Fatal("two identities share a DID or key")
	}
	dir := authtest.Directory(a)
	if _, err := dir.LookupDID(context.Background(), b.DID); err == nil {
		t.Fatal("directory resolves an identity it was not given")
	}
	got, err := dir.LookupDID(context.Background(), a.DID)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := got.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a.Key.PublicKey()
	if !pub.Equal(want) {
		t.Fatal("directory holds another key")
	}
}

package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/pdstest"
)

// TestVerifyRealPDSToken verifies a token minted by Bluesky's PDS for
// alice, with her key read from the harness's PLC.
func TestVerifyRealPDSToken(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	alice := h.Account(t, 0)
	ctx := context.Background()

	c, err := atclient.LoginWithPasswordHost(ctx, h.PDSURL, alice.Handle, alice.Password, "", nil)
	if err != nil {
		t.Fatalf("login %s: %v", alice.Handle, err)
	}
	aud, err := auth.ServiceDID("http://localhost:1986")
	if err != nil {
		t.Fatal(err)
	}
	// atclient query-escapes the parameter, so the PDS receives the
	// percent-encoded port encoded twice (%253A) and decodes it once.
	var out struct{ Token string }
	params := map[string]any{"aud": aud, "lxm": lxm}
	if err := c.Get(ctx, syntax.NSID("com.atproto.server.getServiceAuth"), params, &out); err != nil {
		t.Fatalf("getServiceAuth: %v", err)
	}

	v := auth.NewVerifier(aud, auth.NewDirectory(h.PLCURL, nil))
	did, err := v.Verify(ctx, "Bearer "+out.Token, lxm)
	if err != nil {
		t.Fatalf("Verify real PDS token: %v", err)
	}
	if did.String() != alice.DID {
		t.Fatalf("Verify = %s, want %s", did, alice.DID)
	}

	other := auth.NewVerifier("did:web:elsewhere.example", auth.NewDirectory(h.PLCURL, nil))
	refusals := map[string]func() error{
		"another lxm": func() error {
			_, err := v.Verify(ctx, "Bearer "+out.Token, "alf.v1.DraftService.DeleteDraft")
			return err
		},
		"another audience": func() error {
			_, err := other.Verify(ctx, "Bearer "+out.Token, lxm)
			return err
		},
		"tampered signature": func() error {
			_, err := v.Verify(ctx, "Bearer "+tamperSignature(out.Token), lxm)
			return err
		},
		"the PDS access token (HS256)": func() error {
			_, err := v.Verify(ctx, "Bearer "+alice.AccessJwt, lxm)
			return err
		},
	}
	for name, call := range refusals {
		err := call()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), out.Token[:20]) {
			t.Errorf("%s: error %q contains the token", name, err)
		}
	}
}

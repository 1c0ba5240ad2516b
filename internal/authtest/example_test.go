package authtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
)

// A header from Header passes alf's own verifier.
func TestHeaderAcceptedByVerifier(t *testing.T) {
	t.Parallel()
	alice := authtest.NewIdentity(t)
	aud, err := auth.ServiceDID("http://localhost:1986")
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(aud, authtest.Directory(alice))
	lxm := auth.ProcedureLXM("/alf.v1.DraftService/CreateDraft")
	did, err := v.Verify(context.Background(), alice.Header(t, aud, lxm), lxm)
	if err != nil || did != alice.DID {
		t.Fatalf("Verify = %q, %v", did, err)
	}
}

func ExampleIdentity_Header() {
	var t testing.TB = &testing.T{} // in a test: the test's t
	alice := authtest.NewIdentity(t)
	v := auth.NewVerifier("did:web:localhost%3A1986", authtest.Directory(alice))
	did, err := v.Verify(context.Background(), alice.Header(t, "did:web:localhost%3A1986", "alf.v1.DraftService.CreateDraft"), "alf.v1.DraftService.CreateDraft")
	fmt.Println(did == alice.DID, err)
	// Output: true <nil>
}

package auth_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	indigoauth "github.com/bluesky-social/indigo/atproto/auth"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/auth"
)

func ExampleServiceDID() {
	did, _ := auth.ServiceDID("http://localhost:1986")
	fmt.Println(did)
	did, _ = auth.ServiceDID("https://alf.example.com/")
	fmt.Println(did)
	// Output:
	// did:web:localhost%3A1986
	// did:web:alf.example.com
}

func ExampleProcedureLXM() {
	fmt.Println(auth.ProcedureLXM("/alf.v1.DraftService/CreateDraft"))
	// Output: alf.v1.DraftService.CreateDraft
}

func ExampleVerifier_Verify() {
	// A caller's DID document, as the PLC would serve it. In production
	// the directory is auth.NewDirectory(cfg.PLCRoot, nil).
	key, _ := atcrypto.GeneratePrivateKeyK256()
	pub, _ := key.PublicKey()
	alice := syntax.DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	dir := identity.NewMockDirectory()
	dir.Insert(identity.Identity{DID: alice, Keys: map[string]identity.VerificationMethod{
		"atproto": {Type: "Multikey", PublicKeyMultibase: pub.Multibase()},
	}})

	aud, _ := auth.ServiceDID("http://localhost:1986")
	v := auth.NewVerifier(aud, dir)

	// What the caller's PDS returns from com.atproto.server.getServiceAuth.
	lxm := auth.ProcedureLXM("/alf.v1.DraftService/CreateDraft")
	nsid := syntax.NSID(lxm)
	token, _ := indigoauth.SignServiceAuth(alice, aud, time.Minute, &nsid, key)

	did, err := v.Verify(context.Background(), "Bearer "+token, lxm)
	fmt.Println(did, err)
	_, err = v.Verify(context.Background(), "Bearer "+token, "alf.v1.DraftService.DeleteDraft")
	fmt.Println(err)
	// Output:
	// did:plc:ewvi7nxzyoun6zhxrhs64oiz <nil>
	// service auth refused: token is for another method (lxm)
}

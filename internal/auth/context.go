package auth

import (
	"context"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

type didKey struct{}

// WithDID returns ctx carrying the authenticated caller's DID.
func WithDID(ctx context.Context, did syntax.DID) context.Context {
	return context.WithValue(ctx, didKey{}, did)
}

// DIDFrom returns the authenticated caller's DID, if ctx carries one.
func DIDFrom(ctx context.Context) (syntax.DID, bool) {
	did, ok := ctx.Value(didKey{}).(syntax.DID)
	return did, ok && did != ""
}

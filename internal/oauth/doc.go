// Package oauth makes alf an atproto OAuth client, so that it can publish
// to a user's PDS with the user's consent instead of an app password. It is
// built on indigo's atproto/auth/oauth and keeps all of its state in NATS
// KV, so every gateway and publisher of a deployment shares it.
//
// With an https service URL, alf is a confidential client: client_id
// <SERVICE_URL>/oauth/client-metadata.json, private_key_jwt with an ES256
// (P-256) client key that is made once per deployment and kept sealed
// (internal/seal) in the alf_oauth bucket; its public half is served at
// /oauth/jwks.json. Confidential clients get long-lived grants, which a
// scheduler needs: on Bluesky's authorization server a public client's
// session ends after about two weeks.
//
// With an http service URL (development), alf is a loopback client
// instead: client_id http://localhost?redirect_uri=…&scope=…, redirect URI
// http://127.0.0.1[:port]/oauth/callback, public (no client key, no
// JWKS, short sessions). indigo still requires the authorization server and
// PDS to be https without a port, so a loopback client works against real
// PDSes (such as bsky.social) from a laptop, not against a plain-HTTP PDS.
//
// Client.Handler serves the routes of the reference service (spec §4.6)
// with its bugs fixed: /oauth/authorize sends the user back only to
// redirect_uris on alf's own origin or on ALLOWED_REDIRECT_ORIGINS (400
// otherwise: no open redirect), the pending redirect lives in the sealed
// request in KV (not in one gateway's memory), and /oauth/callback adds
// did=<DID> to it as a proper query parameter. /oauth/jwks.json serves the
// public client key. A loopback client must be reachable by the user's
// browser at its 127.0.0.1 redirect URI.
//
// alf asks for exactly what it does: "atproto", the repo permission to
// create, update and delete records of ALLOWED_COLLECTIONS, and "blob:*/*"
// (see Scopes).
//
// Pending authorization requests (PKCE verifier, DPoP key, the redirect
// URI to send the user back to) are sealed in alf_oauth_requests for ten
// minutes. Sessions are sealed in alf_sessions and updated with
// compare-and-swap on the KV revision. Refresh tokens are single-use, and
// an authorization server that sees one spent twice kills the whole grant,
// so one process at a time holds a short refresh lease on a session; the
// others wait for its result and continue with the winner's tokens.
//
// Use:
//
//	buckets, err := oauth.OpenBuckets(ctx, js)
//	client, err := oauth.New(ctx, oauth.Config{
//		ServiceURL:      "https://alf.example.com",
//		Collections:     []string{"app.bsky.feed.post"},
//		RedirectOrigins: []string{"https://app.example.com"},
//		Key:             key,
//		Buckets:         buckets,
//		OnAuthorized: func(ctx context.Context, a oauth.Authorization) error {
//			return appendAccountAuthorized(ctx, a.DID, a.Host)
//		},
//	})
//	mux.Handle("/oauth/", client.Handler())
//
//	// later, in the publisher:
//	c, err := client.PDSClient(ctx, did)
//	res, err := c.CreateRecord(ctx, "app.bsky.feed.post", rkey, record)
//	if errors.Is(err, oauth.ErrRevoked) { /* the user has to authorize again */ }
//
// Errors match ErrRevoked (the grant is dead), ErrNotAuthorized (no
// session) or ErrTemporary (try later), and the first two also match
// pds.ErrRevoked and pds.ErrNoSession, so pds.Retryable classifies writes
// made through an OAuth session like any other. No error or log line holds
// a token, a key or a PKCE verifier.
package oauth

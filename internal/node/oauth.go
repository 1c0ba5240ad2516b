package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/oauth"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/nats-io/nats.go/jetstream"
)

// oauthClient makes the node's OAuth client: the gateway serves its routes,
// the publisher writes through its sessions.
func (n *Node) oauthClient(ctx context.Context, js jetstream.JetStream) (*oauth.Client, error) {
	o := n.opts
	buckets, err := oauth.OpenBuckets(ctx, js)
	if err != nil {
		return nil, err
	}
	c, err := oauth.New(ctx, oauth.Config{
		ServiceURL:        o.ServiceURL,
		Collections:       o.CollectionNames,
		RedirectOrigins:   o.RedirectOrigins,
		Key:               o.Key,
		Buckets:           buckets,
		HTTPClient:        o.HTTPClient,
		Directory:         o.Directory,
		HandleResolverURL: o.HandleResolverURL,
		OnAuthorized:      n.oauthAuthorized,
		Log:               o.Log.With("role", "oauth"),
	})
	if err != nil {
		return nil, fmt.Errorf("oauth client: %w", err)
	}
	return c, nil
}

// oauthAuthorized records an OAuth authorization (AccountAuthorized) through
// the gateway, which serves the callback that calls it.
func (n *Node) oauthAuthorized(ctx context.Context, a oauth.Authorization) error {
	if n.gw == nil {
		return errors.New("no gateway to record the authorization")
	}
	return n.gw.Authorized(ctx, a.DID, eventsv1.AuthMethod_AUTH_METHOD_OAUTH, a.Host)
}

// preferOAuth hands the publisher an account's OAuth session when it has
// one, else its app-password session. A revoked grant falls back to the app
// password too; with none, the revocation is the answer.
type preferOAuth struct {
	oauth    *oauth.Client
	sessions *pds.Sessions
}

func (p preferOAuth) Client(ctx context.Context, did syntax.DID) (pds.Client, error) {
	if p.oauth == nil {
		return p.sessions.Client(ctx, did)
	}
	c, err := p.oauth.PDSClient(ctx, did)
	if !errors.Is(err, oauth.ErrNotAuthorized) && !errors.Is(err, oauth.ErrRevoked) {
		return c, err // an OAuth client, or a failure to retry
	}
	ac, aerr := p.sessions.Client(ctx, did)
	if errors.Is(aerr, pds.ErrNoSession) && errors.Is(err, oauth.ErrRevoked) {
		return nil, err
	}
	return ac, aerr
}

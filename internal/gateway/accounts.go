package gateway

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/projection"
)

// accounts implements alf.v1.AccountService.
type accounts struct{ g *Gateway }

func (s *accounts) ConnectAppPassword(ctx context.Context, req *connect.Request[alfv1.ConnectAppPasswordRequest]) (*connect.Response[alfv1.ConnectAppPasswordResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetIdentifier() == "" || req.Msg.GetAppPassword() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("identifier and app_password are required"))
	}
	host, err := s.g.cfg.Accounts.ConnectAppPassword(ctx, did, req.Msg.GetIdentifier(), req.Msg.GetAppPassword())
	if err != nil {
		return nil, connectError(err)
	}
	if err := s.g.Authorized(ctx, did, eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD, host); err != nil {
		return nil, err
	}
	a, _ := s.g.cfg.View.Account(did.String())
	return connect.NewResponse(&alfv1.ConnectAppPasswordResponse{Authorization: authorization(did, a)}), nil
}

func (s *accounts) GetAuthorization(ctx context.Context, _ *connect.Request[alfv1.GetAuthorizationRequest]) (*connect.Response[alfv1.GetAuthorizationResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, _ := s.g.cfg.View.Account(did.String())
	return connect.NewResponse(&alfv1.GetAuthorizationResponse{Authorization: authorization(did, a)}), nil
}

// connectError maps an app-password connection failure to an API error.
func connectError(err error) error {
	switch {
	case errors.Is(err, pds.ErrWrongAccount):
		return connect.NewError(connect.CodePermissionDenied, errors.New("the identifier names another account than the one signed in"))
	case errors.Is(err, pds.ErrNotAppPassword):
		return connect.NewError(connect.CodeInvalidArgument, errors.New("that is the account's main password: create an app password for alf instead"))
	case errors.Is(err, pds.ErrLoginRefused), errors.Is(err, pds.ErrRevoked):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("the PDS refused the identifier or app password"))
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("connect to the PDS: %w", err))
}

// Authorized appends AccountAuthorized: alf now holds a session of method
// for did with the PDS host (an app password, or the OAuth callback).
func (g *Gateway) Authorized(ctx context.Context, did syntax.DID, method eventsv1.AuthMethod, host string) error {
	for try := 0; ; try++ {
		cur, _ := g.cfg.View.Account(did.String())
		env := events.New(did.String(), g.cfg.Clock.Now(), &eventsv1.AccountAuthorized{
			Did: did.String(), Method: method, PdsHost: host,
		})
		seq, err := g.cfg.Store.Append(ctx, events.AccountSubject(did.String()), cur.Version, env)
		if errors.Is(err, events.ErrConflict) && try == 0 {
			if err := g.catchUp(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return appendError(err)
		}
		return g.waitView(ctx, seq)
	}
}

func authorization(did syntax.DID, a projection.Account) *alfv1.Authorization {
	m := &alfv1.Authorization{
		Did:           did.String(),
		Authorized:    a.Authorized,
		PdsHost:       a.PDSHost,
		AuthorizedAt:  timestamp(a.AuthorizedAt),
		RevokedReason: a.RevokedReason,
	}
	switch a.Method {
	case eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD:
		m.Method = alfv1.AuthMethod_AUTH_METHOD_APP_PASSWORD
	case eventsv1.AuthMethod_AUTH_METHOD_OAUTH:
		m.Method = alfv1.AuthMethod_AUTH_METHOD_OAUTH
	}
	return m
}

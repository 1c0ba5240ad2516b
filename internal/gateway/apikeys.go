package gateway

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/auth"
)

func (s *accounts) CreateApiKey(ctx context.Context, req *connect.Request[alfv1.CreateApiKeyRequest]) (*connect.Response[alfv1.CreateApiKeyResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.g.apiKeys()
	if err != nil {
		return nil, err
	}
	secret, key, err := keys.Create(ctx, did, req.Msg.GetName())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewResponse(&alfv1.CreateApiKeyResponse{ApiKey: apiKeyMessage(key), Secret: secret}), nil
}

func (s *accounts) ListApiKeys(ctx context.Context, _ *connect.Request[alfv1.ListApiKeysRequest]) (*connect.Response[alfv1.ListApiKeysResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.g.apiKeys()
	if err != nil {
		return nil, err
	}
	list, err := keys.List(ctx, did)
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	out := &alfv1.ListApiKeysResponse{}
	for _, k := range list {
		out.ApiKeys = append(out.ApiKeys, apiKeyMessage(k))
	}
	return connect.NewResponse(out), nil
}

func (s *accounts) RevokeApiKey(ctx context.Context, req *connect.Request[alfv1.RevokeApiKeyRequest]) (*connect.Response[alfv1.RevokeApiKeyResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.g.apiKeys()
	if err != nil {
		return nil, err
	}
	switch err := keys.Revoke(ctx, did, req.Msg.GetId()); {
	case errors.Is(err, auth.ErrAPIKeyNotFound):
		return nil, connect.NewError(connect.CodeNotFound, err)
	case err != nil:
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&alfv1.RevokeApiKeyResponse{}), nil
}

func (g *Gateway) apiKeys() (*auth.APIKeys, error) {
	if g.cfg.APIKeys == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("API keys are not configured"))
	}
	return g.cfg.APIKeys, nil
}

func apiKeyMessage(k auth.APIKey) *alfv1.ApiKey {
	return &alfv1.ApiKey{Id: k.ID, Name: k.Name, CreatedAt: timestamp(k.CreatedAt)}
}

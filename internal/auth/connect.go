package auth

import (
	"context"
	"net/http"
	"net/url"

	"connectrpc.com/connect"
)

// Interceptor returns a Connect handler interceptor that verifies every
// unary and streaming call (lxm = [ProcedureLXM] of the procedure) and puts
// the caller's DID in the handler's context. A refused call ends with
// connect.CodeUnauthenticated before the handler runs. On the client side
// it does nothing.
func (v *Verifier) Interceptor() connect.Interceptor {
	return &interceptor{v: v}
}

type interceptor struct{ v *Verifier }

func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.authenticate(ctx, req.HTTPMethod(), req.Header(), req.Spec().Procedure)
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authenticate(ctx, http.MethodPost, conn.RequestHeader(), conn.Spec().Procedure)
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// authenticate checks a call's headers; the request it builds for
// VerifyRequest carries what a DPoP proof is checked against (method and
// path; the host is alf's public URL).
func (i *interceptor) authenticate(ctx context.Context, method string, header http.Header, procedure string) (context.Context, error) {
	r := &http.Request{Method: method, URL: &url.URL{Path: procedure}, Header: header}
	did, err := i.v.VerifyRequest(ctx, r, ProcedureLXM(procedure))
	if err != nil {
		return ctx, connect.NewError(connect.CodeUnauthenticated, err)
	}
	return WithDID(ctx, did), nil
}

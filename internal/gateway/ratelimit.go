package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/ratelimit"
)

// Rate limits: every request is counted against its client's IP address
// (PerIP) before anything else, and every authenticated one against its
// account (PerAccount) right after authentication. A refused request gets
// 429 with Retry-After (XRPC and REST: {"error":"RateLimitExceeded"};
// Connect: resource_exhausted with a Retry-After header). Health checks
// are never limited. The IP is the connection's peer: behind a proxy, put
// the limit on the proxy.

// unlimited are the paths no limit applies to: health checks.
var unlimited = map[string]bool{
	"/health":                      true,
	"/xrpc/_health":                true,
	"/grpc.health.v1.Health/Check": true,
	"/grpc.health.v1.Health/Watch": true,
}

// limitIP refuses requests from an IP over its rate.
func (g *Gateway) limitIP(next http.Handler) http.Handler {
	if g.cfg.PerIP == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unlimited[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := g.cfg.PerIP.Allow(clientIP(r)); !ok {
			writeLimited(w, wait, "too many requests from this address")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limitAccount refuses a call of an account over its rate, as an XRPC error.
func (g *Gateway) limitAccount(did syntax.DID) error {
	if ok, wait := g.cfg.PerAccount.Allow(did.String()); !ok {
		return &xrpcError{status: http.StatusTooManyRequests, name: "RateLimitExceeded",
			message: "too many requests for this account", retryAfter: wait}
	}
	return nil
}

func writeLimited(w http.ResponseWriter, wait time.Duration, message string) {
	w.Header().Set("Retry-After", ratelimit.Seconds(wait))
	writeXRPCError(w, http.StatusTooManyRequests, "RateLimitExceeded", message)
}

// accountLimit is a Connect interceptor, after authentication, refusing
// calls of an account over its rate with resource_exhausted.
func (g *Gateway) accountLimit() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			did, ok := auth.DIDFrom(ctx)
			if !ok {
				return next(ctx, req)
			}
			if ok, wait := g.cfg.PerAccount.Allow(did.String()); !ok {
				ce := connect.NewError(connect.CodeResourceExhausted,
					fmt.Errorf("too many requests for this account; retry in %ss", ratelimit.Seconds(wait)))
				ce.Meta().Set("Retry-After", ratelimit.Seconds(wait))
				return nil, ce
			}
			return next(ctx, req)
		}
	})
}

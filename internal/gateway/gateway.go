// Package gateway is alf's API surface: the Connect services (served with the
// Connect, gRPC and gRPC-Web protocols on one h2c port, with gRPC health and
// reflection) and the plain HTTP routes. Handlers validate a command against
// the projection, append its event at the version it was decided on, and
// answer once the projection shows their own write.
//
//	gw := gateway.New(gateway.Config{View: view, Store: store, Verifier: v, Accounts: sessions})
//	srv := &http.Server{Addr: ":1986", Handler: gw.Handler(), Protocols: gateway.Protocols()}
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/chain"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/lexicon"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/ratelimit"
)

// AppPasswords connects accounts with app passwords, and forgets them
// (pds.Sessions does).
type AppPasswords interface {
	ConnectAppPassword(ctx context.Context, did syntax.DID, identifier, appPassword string) (host string, err error)
	Delete(ctx context.Context, did syntax.DID) error
}

// OAuthSessions is alf's OAuth client (oauth.Client is one).
type OAuthSessions interface {
	Handler() http.Handler
	Delete(ctx context.Context, did syntax.DID) error
}

// Config wires a Gateway.
type Config struct {
	View     *projection.View
	Store    *events.Store
	Verifier *auth.Verifier
	Accounts AppPasswords
	// Triggers keeps one-time trigger URLs; nil refuses drafts with a
	// trigger.
	Triggers *Triggers
	// Blobs keeps uploaded blobs until their record is published.
	Blobs *blob.Store
	// PerIP and PerAccount limit the request rate of each client address
	// and each account (429 with Retry-After); nil limits nothing.
	PerIP, PerAccount *ratelimit.Limiter
	// OAuth serves the /oauth/ routes and holds OAuth sessions; nil serves
	// none.
	OAuth OAuthSessions
	// APIKeys keeps alf API keys (the Verifier must accept them too); nil
	// refuses the key methods.
	APIKeys *auth.APIKeys
	// Lexicons validates XRPC calls.
	Lexicons *lexicon.Catalog
	// DisableRecurring refuses new recurring schedules and is reported by
	// /oauth/status (DISABLE_RECURRING).
	DisableRecurring bool
	// Chain queues the occurrences of schedules right after a schedule
	// command; nil leaves it to the chainer service.
	Chain *chain.Chainer
	// MaxDrafts caps each account's active drafts (MAX_DRAFTS_PER_USER);
	// 0 means no cap.
	MaxDrafts int
	// Collections reports whether a collection may be written
	// (ALLOWED_COLLECTIONS); nil allows every collection.
	Collections func(nsid string) bool
	Clock       clock.Clock  // default clock.Real
	Log         *slog.Logger // default slog.Default()
	// ViewTimeout bounds the wait for the projection to show a command's own
	// write (default 5 s).
	ViewTimeout time.Duration
	// PublishWait is how long PublishDraft waits for the outcome before it
	// answers with the draft as it stands (default 10 s).
	PublishWait time.Duration
}

// Gateway serves alf's APIs.
type Gateway struct {
	cfg  Config
	xrpc map[string]xrpcHandler
}

// New returns a gateway.
func New(cfg Config) *Gateway {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ViewTimeout <= 0 {
		cfg.ViewTimeout = 5 * time.Second
	}
	if cfg.PublishWait <= 0 {
		cfg.PublishWait = 10 * time.Second
	}
	g := &Gateway{cfg: cfg}
	g.xrpc = g.xrpcMethods()
	return g
}

// Protocols serves HTTP/1.1 and HTTP/2 without TLS (h2c), as gRPC needs.
func Protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// Handler routes every API of the gateway.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	// Small answers are not worth compressing: gzip of every reply was 12%
	// of the CPU of an ingest benchmark.
	opts := connect.WithHandlerOptions(
		connect.WithInterceptors(g.cfg.Verifier.Interceptor(), g.accountLimit()),
		connect.WithCompressMinBytes(1024),
	)
	mux.Handle(alfv1connect.NewDraftServiceHandler(&drafts{g}, opts))
	mux.Handle(alfv1connect.NewAccountServiceHandler(&accounts{g}, opts))
	mux.Handle(alfv1connect.NewScheduleServiceHandler(&schedules{g}, opts))

	services := []string{alfv1connect.DraftServiceName, alfv1connect.AccountServiceName, alfv1connect.ScheduleServiceName}
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(services...)))
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	mux.HandleFunc("GET /health", Health)
	mux.HandleFunc("POST /triggers/{key}", g.fireTrigger)
	mux.HandleFunc("POST /blob", g.serveBlob)
	mux.HandleFunc("GET /oauth/status", g.oauthStatus)
	if g.cfg.OAuth != nil {
		mux.Handle("/oauth/", g.cfg.OAuth.Handler())
	}
	mux.HandleFunc("DELETE /account", g.serveDeleteAccount)
	mux.HandleFunc("GET /xrpc/_health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"version":"1.0.0","service":"alf"}`))
	})
	mux.HandleFunc("/xrpc/com.atproto.repo.uploadBlob", g.serveUploadBlob)
	mux.HandleFunc("/xrpc/{nsid}", g.serveXRPC)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
	})
	return withCORS(g.limitIP(mux))
}

// Health answers GET /health: {"status":"ok","service":"alf"}.
func Health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok","service":"alf"}`))
}

// caller is the authenticated DID of a request.
func caller(ctx context.Context) (syntax.DID, error) {
	did, ok := auth.DIDFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errNoCaller)
	}
	return did, nil
}

// waitView waits until the projection shows seq.
func (g *Gateway) waitView(ctx context.Context, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ViewTimeout)
	defer cancel()
	if err := g.cfg.View.WaitFor(ctx, seq); err != nil {
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return nil
}

// catchUp waits until the projection shows everything appended so far, so a
// command retried after a conflict decides on fresh state.
func (g *Gateway) catchUp(ctx context.Context) error {
	last, err := g.cfg.Store.LastSeq(ctx)
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return g.waitView(ctx, last)
}

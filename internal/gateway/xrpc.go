package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/lexicon"
	"github.com/latency-fabric/alf/internal/ratelimit"
)

// The XRPC surface is the drop-in replacement for the reference service:
// the repo writes alf keeps as drafts and the town.roundabout.scheduledPosts
// methods. A request goes through the reference's order: method known (else
// 501), verb, parameters and body against the lexicon (400), authentication
// (401, a service-auth JWT with lxm = the method's NSID), then the handler.

const nsidCreateSchedule = "town.roundabout.scheduledPosts.createSchedule"

// maxJSONBody is the largest JSON body an XRPC procedure takes.
const maxJSONBody = 1 << 20

// xrpcRequest is a validated XRPC call.
type xrpcRequest struct {
	nsid   string
	did    syntax.DID
	params map[string]any
	input  map[string]any
	body   []byte // the raw JSON body of a procedure
	header http.Header
}

type xrpcHandler func(ctx context.Context, req *xrpcRequest) (any, error)

// xrpcError is an answer with the XRPC error envelope.
type xrpcError struct {
	status     int
	name       string
	message    string
	retryAfter time.Duration // sent as Retry-After when set
}

func (e *xrpcError) Error() string { return e.name + ": " + e.message }

func invalid(message string) error {
	return &xrpcError{status: http.StatusBadRequest, name: "InvalidRequest", message: message}
}

func notFound(message string) error {
	return &xrpcError{status: http.StatusBadRequest, name: "NotFound", message: message}
}

func notYours(message string) error {
	return &xrpcError{status: http.StatusUnauthorized, name: "AuthenticationRequired", message: message}
}

// xrpcMethods are the handlers by NSID.
func (g *Gateway) xrpcMethods() map[string]xrpcHandler {
	return map[string]xrpcHandler{
		"com.atproto.repo.createRecord":                 g.createRecord,
		"com.atproto.repo.putRecord":                    g.putRecord,
		"com.atproto.repo.deleteRecord":                 g.deleteRecord,
		"com.atproto.repo.applyWrites":                  g.applyWrites,
		"town.roundabout.scheduledPosts.listPosts":      g.listPosts,
		"town.roundabout.scheduledPosts.getPost":        g.getPost,
		"town.roundabout.scheduledPosts.schedulePost":   g.schedulePost,
		"town.roundabout.scheduledPosts.publishPost":    g.publishPost,
		"town.roundabout.scheduledPosts.updatePost":     g.updatePost,
		"town.roundabout.scheduledPosts.deletePost":     g.deletePost,
		"town.roundabout.scheduledPosts.createSchedule": g.createScheduleXRPC,
		"town.roundabout.scheduledPosts.listSchedules":  g.listSchedules,
		"town.roundabout.scheduledPosts.getSchedule":    g.getSchedule,
		"town.roundabout.scheduledPosts.updateSchedule": g.updateScheduleXRPC,
		"town.roundabout.scheduledPosts.deleteSchedule": g.deleteScheduleXRPC,
		// alf's own, for parity with the Connect API:
		"town.roundabout.scheduledPosts.unschedulePost": g.unschedulePost,
		"town.roundabout.scheduledPosts.retryPost":      g.retryPost,
	}
}

// serveXRPC handles /xrpc/{nsid}.
func (g *Gateway) serveXRPC(w http.ResponseWriter, r *http.Request) {
	nsid := r.PathValue("nsid")
	handler, ok := g.xrpc[nsid]
	method, known := g.cfg.Lexicons.Method(nsid)
	if !ok || !known {
		writeXRPCError(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
		return
	}
	req, err := g.readXRPC(w, r, method)
	if err != nil {
		writeErr(w, err)
		return
	}
	if nsid == nsidCreateSchedule && g.cfg.DisableRecurring { // before auth, as the reference
		writeXRPCError(w, http.StatusUnauthorized, "AuthenticationRequired", msgRecurringDisabled)
		return
	}
	did, err := g.cfg.Verifier.VerifyRequest(r.Context(), r, nsid)
	if err != nil {
		writeXRPCError(w, http.StatusUnauthorized, "AuthenticationRequired", authMessage(err))
		return
	}
	req.did = did
	if err := g.limitAccount(did); err != nil {
		writeErr(w, err)
		return
	}
	out, err := handler(r.Context(), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// readXRPC checks the verb, parameters and body of a call.
func (g *Gateway) readXRPC(w http.ResponseWriter, r *http.Request, m lexicon.Method) (*xrpcRequest, error) {
	req := &xrpcRequest{nsid: m.NSID, header: r.Header}
	want := http.MethodGet
	if m.Kind == "procedure" {
		want = http.MethodPost
	}
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		return nil, invalid("Incorrect HTTP method (" + r.Method + ") expected " + want)
	}
	params, err := g.cfg.Lexicons.Params(m.NSID, r.URL.Query())
	if err != nil {
		return nil, err
	}
	req.params = params
	if want == http.MethodGet {
		return req, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &xrpcError{status: http.StatusRequestEntityTooLarge, name: "PayloadTooLarge", message: "request body is larger than 1 MB"}
	}
	if err != nil {
		return nil, invalid("could not read the request body")
	}
	input, err := g.cfg.Lexicons.Input(m.NSID, r.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	req.input, req.body = input, body
	return req, nil
}

// writeErr answers with an error's XRPC envelope: its own for the errors
// alf means, 500 (details hidden) for the rest.
func writeErr(w http.ResponseWriter, err error) {
	var xe *xrpcError
	var le *lexicon.Error
	switch {
	case errors.As(err, &xe):
		if xe.retryAfter > 0 {
			w.Header().Set("Retry-After", ratelimit.Seconds(xe.retryAfter))
		}
		writeXRPCError(w, xe.status, xe.name, xe.message)
	case errors.As(err, &le):
		writeXRPCError(w, le.Status, le.Name, le.Message)
	default:
		writeXRPCError(w, http.StatusInternalServerError, "InternalServerError", "Internal Server Error")
	}
}

// authMessage is the reason a token was refused (it never holds the token).
func authMessage(err error) string {
	return strings.TrimPrefix(err.Error(), auth.ErrUnauthenticated.Error()+": ")
}

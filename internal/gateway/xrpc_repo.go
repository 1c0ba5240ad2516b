package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Headers of a repo write that alf reads.
const (
	headerScheduledAt = "X-Scheduled-At"
	headerTrigger     = "X-Trigger"
)

// repoWrite is the body of createRecord, putRecord and deleteRecord, with
// the record kept as the client's bytes.
type repoWrite struct {
	Repo       string          `json:"repo"`
	Collection string          `json:"collection"`
	Rkey       string          `json:"rkey"`
	Record     json.RawMessage `json:"record"`
}

func (g *Gateway) createRecord(ctx context.Context, req *xrpcRequest) (any, error) {
	return g.repoWrite(ctx, req, eventsv1.Action_ACTION_CREATE)
}

func (g *Gateway) putRecord(ctx context.Context, req *xrpcRequest) (any, error) {
	return g.repoWrite(ctx, req, eventsv1.Action_ACTION_PUT)
}

func (g *Gateway) deleteRecord(ctx context.Context, req *xrpcRequest) (any, error) {
	return g.repoWrite(ctx, req, eventsv1.Action_ACTION_DELETE)
}

// repoWrite keeps a repo write as a draft: scheduled with x-scheduled-at,
// with a one-time trigger URL with x-trigger: webhook.
func (g *Gateway) repoWrite(ctx context.Context, req *xrpcRequest, action eventsv1.Action) (any, error) {
	var in repoWrite
	if err := json.Unmarshal(req.body, &in); err != nil {
		return nil, invalid("Input must be a JSON object")
	}
	if in.Repo != "" && in.Repo != req.did.String() {
		return nil, invalid("repo must match authenticated user")
	}
	nd := newDraft{collection: in.Collection, action: action, trigger: req.header.Get(headerTrigger) == "webhook"}
	var err error
	if nd.rkey, err = parseRkey(in.Rkey, action); err != nil {
		return nil, invalid(err.Error())
	}
	if nd.scheduledAt, err = scheduledAtHeader(req.header.Get(headerScheduledAt)); err != nil {
		return nil, err
	}
	if err := g.checkCollection(nd.collection); err != nil {
		return nil, invalid(err.Error())
	}
	if action != eventsv1.Action_ACTION_DELETE {
		if nd.record, nd.cid, err = record.Prepare(nd.collection, in.Record); err != nil {
			return nil, invalid(err.Error())
		}
	}
	nd.uri = "at://" + req.did.String() + "/" + nd.collection + "/" + nd.rkey
	d, err := g.create(ctx, req.did, nd)
	if err != nil {
		return nil, repoWriteError(err, nd.uri)
	}
	out := map[string]any{}
	if action != eventsv1.Action_ACTION_DELETE {
		out = map[string]any{"uri": d.URI, "cid": d.CID, "validationStatus": "unknown"}
	}
	if url := g.triggerURL(ctx, d); url != "" {
		out["triggerUrl"] = url
	}
	return out, nil
}

// scheduledAtHeader parses x-scheduled-at: an RFC 3339 / ISO 8601 date-time
// (a time without an offset is UTC) or a date (UTC midnight). Anything else
// is refused; the reference silently made an unscheduled draft.
func scheduledAtHeader(v string) (*timestamppb.Timestamp, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return timestamppb.New(t), nil
		}
	}
	return nil, invalid("x-scheduled-at must be an ISO 8601 date-time, e.g. 2026-03-01T09:00:00Z")
}

// repoWriteError maps a create failure to the reference's answers.
func repoWriteError(err error, uri string) error {
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeAlreadyExists {
		return &xrpcError{status: http.StatusBadRequest, name: "DuplicateDraft", message: "An active draft already exists for URI: " + uri}
	}
	if errors.As(err, &ce) && ce.Code() == connect.CodeResourceExhausted {
		return &xrpcError{status: http.StatusBadRequest, name: "DraftLimitExceeded", message: ce.Message()}
	}
	return connectToXRPC(err)
}

// connectToXRPC maps the gateway's Connect errors to XRPC answers.
func connectToXRPC(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code() {
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition:
		return invalid(ce.Message())
	case connect.CodeNotFound:
		return notFound(ce.Message())
	case connect.CodePermissionDenied, connect.CodeUnauthenticated:
		return notYours(ce.Message())
	case connect.CodeUnavailable, connect.CodeAborted:
		return &xrpcError{status: http.StatusServiceUnavailable, name: "Unavailable", message: "try again"}
	}
	return err
}

func (g *Gateway) triggerURL(ctx context.Context, d projection.Draft) string {
	if g.cfg.Triggers == nil {
		return ""
	}
	return g.cfg.Triggers.URL(ctx, d.TriggerHash)
}

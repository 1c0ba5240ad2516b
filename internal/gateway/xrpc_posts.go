package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The town.roundabout.scheduledPosts.* draft methods (spec §4.4), with the
// reference's answers, minus its bugs: ownership is checked before
// existence (no existence leak), cursors never skip ties.

// draftView is the reference's DraftView (spec §3.2).
type draftView struct {
	URI           string          `json:"uri"`
	CID           string          `json:"cid,omitempty"`
	Collection    string          `json:"collection"`
	Rkey          string          `json:"rkey"`
	Action        string          `json:"action"`
	Status        string          `json:"status"`
	ScheduledAt   string          `json:"scheduledAt,omitempty"`
	CreatedAt     string          `json:"createdAt"`
	FailureReason string          `json:"failureReason,omitempty"`
	Record        json.RawMessage `json:"record,omitempty"`
	TriggerURL    string          `json:"triggerUrl,omitempty"`
	ScheduleID    string          `json:"scheduleId,omitempty"`
	// Writes of an applyWrites draft (not in the reference's lexicon;
	// extra fields are allowed).
	Writes []writeView `json:"writes,omitempty"`
}

// writeView is one write of an applyWrites draft.
type writeView struct {
	Action     string          `json:"action"`
	Collection string          `json:"collection"`
	Rkey       string          `json:"rkey"`
	CID        string          `json:"cid,omitempty"`
	Record     json.RawMessage `json:"record,omitempty"`
}

// viewTime is the reference's timestamp format.
func viewTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(record.TimeFormat)
}

func (g *Gateway) draftView(ctx context.Context, d projection.Draft) draftView {
	v := draftView{
		URI:           d.URI,
		CID:           d.CID,
		Collection:    d.Collection,
		Rkey:          d.Rkey,
		Action:        actionName(d.Action),
		Status:        string(d.Status),
		ScheduledAt:   viewTime(d.ScheduledAt),
		CreatedAt:     viewTime(d.CreatedAt),
		FailureReason: d.FailureReason,
		TriggerURL:    g.triggerURL(ctx, d),
	}
	if len(d.Record) > 0 {
		v.Record = d.Record
	}
	if o := d.Occurrence; o != nil {
		v.ScheduleID = o.ScheduleID
	}
	for _, w := range d.Writes {
		wv := writeView{Action: actionName(w.GetAction()), Collection: w.GetCollection(), Rkey: w.GetRkey(), CID: w.GetCid()}
		if len(w.GetRecord()) > 0 {
			wv.Record = w.GetRecord()
		}
		v.Writes = append(v.Writes, wv)
	}
	return v
}

func actionName(a eventsv1.Action) string {
	switch a {
	case eventsv1.Action_ACTION_PUT:
		return "put"
	case eventsv1.Action_ACTION_DELETE:
		return "delete"
	case eventsv1.Action_ACTION_BATCH:
		return "applyWrites"
	}
	return "create"
}

func (g *Gateway) listPosts(ctx context.Context, req *xrpcRequest) (any, error) {
	if str(req.params, "repo") != req.did.String() {
		return nil, notYours("You can only list your own drafts")
	}
	status := projection.Status(str(req.params, "status"))
	q := projection.Query{
		Status:     status,
		Limit:      integer(req.params, "limit", 50),
		Cursor:     str(req.params, "cursor"),
		BySchedule: status == projection.StatusScheduled,
	}
	if status != "" && !knownStatus(status) {
		return map[string]any{"posts": []draftView{}}, nil // the reference's answer to an unknown status
	}
	rows, next, err := g.cfg.View.List(req.did.String(), q)
	if err != nil {
		return nil, invalid("Invalid cursor")
	}
	posts := make([]draftView, 0, len(rows))
	for _, d := range rows {
		posts = append(posts, g.draftView(ctx, d))
	}
	out := map[string]any{"posts": posts}
	if next != "" {
		out["cursor"] = next
	}
	return out, nil
}

func knownStatus(s projection.Status) bool {
	_, ok := statuses[s]
	return ok
}

func (g *Gateway) getPost(ctx context.Context, req *xrpcRequest) (any, error) {
	d, err := g.ownPost(req.did, str(req.params, "uri"), "You can only view your own drafts", "Draft not found")
	if err != nil {
		return nil, err
	}
	return g.draftView(ctx, d), nil
}

func (g *Gateway) schedulePost(ctx context.Context, req *xrpcRequest) (any, error) {
	at, err := datetime(req.input, "publishAt")
	if err != nil {
		return nil, err
	}
	return g.postCommand(ctx, req, "You can only schedule your own drafts", "Draft not found or not in a schedulable state",
		func(d projection.Draft) (proto.Message, error) {
			if changeable(d) != nil {
				return nil, nil // the reference answers with the draft as it is
			}
			return &eventsv1.DraftScheduled{DraftId: d.ID, ScheduledAt: at}, nil
		})
}

func (g *Gateway) publishPost(ctx context.Context, req *xrpcRequest) (any, error) {
	uri := str(req.input, "uri")
	d, err := g.ownPost(req.did, uri, "You can only publish your own drafts", "Draft not found")
	if err != nil {
		return nil, err
	}
	var before uint32
	d, err = g.change(ctx, req.did.String(), func() (projection.Draft, error) { return g.ownDraft(req.did, uri) },
		func(d projection.Draft) (proto.Message, error) {
			before = attemptsBefore(d)
			if changeable(d) != nil {
				return nil, nil
			}
			return &eventsv1.DraftPublishRequested{DraftId: d.ID}, nil
		})
	if err != nil {
		return nil, connectToXRPC(err)
	}
	return g.draftView(ctx, g.awaitOutcome(ctx, d.ID, before)), nil
}

func (g *Gateway) updatePost(ctx context.Context, req *xrpcRequest) (any, error) {
	ev := &eventsv1.DraftUpdated{}
	if _, ok := req.input["scheduledAt"]; ok {
		at, err := datetime(req.input, "scheduledAt")
		if err != nil {
			return nil, err
		}
		ev.ScheduledAt = at
	}
	var in struct {
		Record json.RawMessage `json:"record"`
	}
	_ = json.Unmarshal(req.body, &in)
	return g.postCommand(ctx, req, "You can only update your own drafts", "Draft not found or not in an updatable state",
		func(d projection.Draft) (proto.Message, error) {
			if changeable(d) != nil {
				return nil, nil
			}
			e := proto.Clone(ev).(*eventsv1.DraftUpdated)
			e.DraftId = d.ID
			if len(in.Record) > 0 && d.Action == eventsv1.Action_ACTION_BATCH {
				return nil, invalid("the records of an applyWrites draft cannot be replaced; delete it and write again")
			}
			if len(in.Record) > 0 && d.Action != eventsv1.Action_ACTION_DELETE {
				body, cid, err := record.Prepare(d.Collection, in.Record)
				if err != nil {
					return nil, invalid(err.Error())
				}
				e.Record, e.Cid = body, cid
			}
			if len(e.Record) == 0 && e.ScheduledAt == nil {
				return nil, nil
			}
			return e, nil
		})
}

// unschedulePost takes a scheduled draft back to an unscheduled one (alf's
// own method: the reference cannot).
func (g *Gateway) unschedulePost(ctx context.Context, req *xrpcRequest) (any, error) {
	return g.postCommand(ctx, req, "You can only unschedule your own drafts", "Draft not found",
		func(d projection.Draft) (proto.Message, error) {
			if d.Status != projection.StatusScheduled {
				return nil, nil
			}
			return &eventsv1.DraftUnscheduled{DraftId: d.ID}, nil
		})
}

// retryPost gives a failed draft a fresh set of attempts (alf's own method).
func (g *Gateway) retryPost(ctx context.Context, req *xrpcRequest) (any, error) {
	return g.postCommand(ctx, req, "You can only retry your own drafts", "Draft not found",
		func(d projection.Draft) (proto.Message, error) {
			if d.Status != projection.StatusFailed {
				return nil, invalid("only a failed draft can be retried; this one is " + string(d.Status))
			}
			return &eventsv1.DraftRetried{DraftId: d.ID}, nil
		})
}

func (g *Gateway) deletePost(ctx context.Context, req *xrpcRequest) (any, error) {
	uri := str(req.input, "uri")
	if err := ownURI(req.did, uri, "You can only delete your own drafts"); err != nil {
		return nil, err
	}
	_, err := g.change(ctx, req.did.String(), func() (projection.Draft, error) { return g.ownDraft(req.did, uri) },
		func(d projection.Draft) (proto.Message, error) {
			if changeable(d) != nil {
				return nil, nil
			}
			return &eventsv1.DraftCancelled{DraftId: d.ID, Reason: "deleted by the user"}, nil
		})
	var ce *connect.Error
	if err != nil && !(errors.As(err, &ce) && ce.Code() == connect.CodeNotFound) {
		return nil, connectToXRPC(err)
	}
	return map[string]any{}, nil
}

// postCommand runs a command on the caller's draft named by input uri and
// answers with the draft as it then stands.
func (g *Gateway) postCommand(ctx context.Context, req *xrpcRequest, notOwner, missing string, decide func(projection.Draft) (proto.Message, error)) (any, error) {
	uri := str(req.input, "uri")
	if _, err := g.ownPost(req.did, uri, notOwner, missing); err != nil {
		return nil, err
	}
	d, err := g.change(ctx, req.did.String(), func() (projection.Draft, error) { return g.ownDraft(req.did, uri) }, decide)
	if err != nil {
		var xe *xrpcError
		if errors.As(err, &xe) {
			return nil, err
		}
		return nil, connectToXRPC(err)
	}
	return g.draftView(ctx, d), nil
}

// ownPost finds the caller's draft of uri with the reference's answers:
// 401 for another's draft (checked first), 400 NotFound for none.
func (g *Gateway) ownPost(did syntax.DID, uri, notOwner, missing string) (projection.Draft, error) {
	if err := ownURI(did, uri, notOwner); err != nil {
		return projection.Draft{}, err
	}
	d, ok := g.cfg.View.DraftByURI(uri)
	if !ok {
		return projection.Draft{}, notFound(missing)
	}
	return d, nil
}

func ownURI(did syntax.DID, uri, notOwner string) error {
	u, err := syntax.ParseATURI(uri)
	if err != nil {
		return invalid("Invalid uri format")
	}
	owner, err := u.Authority().AsDID()
	if err != nil {
		return invalid("Invalid uri format")
	}
	if owner != did {
		return notYours(notOwner)
	}
	return nil
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func integer(m map[string]any, key string, def int) int {
	switch v := m[key].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return int(n)
		}
	}
	return def
}

// datetime reads an atproto datetime field (a time without an offset is UTC).
func datetime(m map[string]any, key string) (*timestamppb.Timestamp, error) {
	at, err := scheduledAtHeader(str(m, key))
	if err != nil || at == nil {
		return nil, invalid("Input/" + key + " must be an valid atproto datetime (both RFC-3339 and ISO-8601)")
	}
	return at, nil
}

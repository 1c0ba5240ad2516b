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
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var errNoCaller = errors.New("no authenticated account")

// drafts implements alf.v1.DraftService.
type drafts struct{ g *Gateway }

func (s *drafts) CreateDraft(ctx context.Context, req *connect.Request[alfv1.CreateDraftRequest]) (*connect.Response[alfv1.CreateDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	nd, err := s.g.parseNewDraft(did, req.Msg)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	d, err := s.g.create(ctx, did, nd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.CreateDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) GetDraft(ctx context.Context, req *connect.Request[alfv1.GetDraftRequest]) (*connect.Response[alfv1.GetDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.g.ownDraft(did, req.Msg.GetUri())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.GetDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) ListDrafts(ctx context.Context, req *connect.Request[alfv1.ListDraftsRequest]) (*connect.Response[alfv1.ListDraftsResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	size := req.Msg.GetPageSize()
	if size < 0 || size > 100 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("page_size must be between 1 and 100"))
	}
	status := statusFilter(req.Msg.GetStatus())
	rows, next, err := s.g.cfg.View.List(did.String(), projection.Query{
		Status:     status,
		Limit:      int(size),
		Cursor:     req.Msg.GetPageToken(),
		BySchedule: status == projection.StatusScheduled,
	})
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("page_token: %w", err))
	}
	out := &alfv1.ListDraftsResponse{NextPageToken: next}
	for _, d := range rows {
		out.Drafts = append(out.Drafts, s.g.draftMessage(ctx, d))
	}
	return connect.NewResponse(out), nil
}

func (s *drafts) ScheduleDraft(ctx context.Context, req *connect.Request[alfv1.ScheduleDraftRequest]) (*connect.Response[alfv1.ScheduleDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	at := req.Msg.GetScheduledAt()
	if err := at.CheckValid(); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("scheduled_at: %w", err))
	}
	d, err := s.g.update(ctx, did, req.Msg.GetUri(), func(d projection.Draft) (proto.Message, error) {
		if err := changeable(d); err != nil {
			return nil, err
		}
		return &eventsv1.DraftScheduled{DraftId: d.ID, ScheduledAt: at}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.ScheduleDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) PublishDraft(ctx context.Context, req *connect.Request[alfv1.PublishDraftRequest]) (*connect.Response[alfv1.PublishDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var before uint32
	d, err := s.g.update(ctx, did, req.Msg.GetUri(), func(d projection.Draft) (proto.Message, error) {
		before = attemptsBefore(d)
		switch d.Status {
		case projection.StatusPublished, projection.StatusPublishing:
			return nil, nil // already on its way: publishing twice is never right
		}
		if err := changeable(d); err != nil {
			return nil, err
		}
		return &eventsv1.DraftPublishRequested{DraftId: d.ID}, nil
	})
	if err != nil {
		return nil, err
	}
	d = s.g.awaitOutcome(ctx, d.ID, before)
	return connect.NewResponse(&alfv1.PublishDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) CancelDraft(ctx context.Context, req *connect.Request[alfv1.CancelDraftRequest]) (*connect.Response[alfv1.CancelDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.g.update(ctx, did, req.Msg.GetUri(), func(d projection.Draft) (proto.Message, error) {
		if d.Status == projection.StatusCancelled {
			return nil, nil
		}
		if err := changeable(d); err != nil {
			return nil, err
		}
		return &eventsv1.DraftCancelled{DraftId: d.ID, Reason: "cancelled by the user"}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.CancelDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) UpdateDraft(ctx context.Context, req *connect.Request[alfv1.UpdateDraftRequest]) (*connect.Response[alfv1.UpdateDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetRecord() == nil && req.Msg.GetScheduledAt() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("give a record, a scheduled_at or both"))
	}
	if at := req.Msg.GetScheduledAt(); at != nil {
		if err := at.CheckValid(); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("scheduled_at: %w", err))
		}
	}
	d, err := s.g.update(ctx, did, req.Msg.GetUri(), func(d projection.Draft) (proto.Message, error) {
		if err := changeable(d); err != nil {
			return nil, err
		}
		ev := &eventsv1.DraftUpdated{DraftId: d.ID, ScheduledAt: req.Msg.GetScheduledAt()}
		if req.Msg.GetRecord() != nil {
			switch d.Action {
			case eventsv1.Action_ACTION_DELETE:
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("a delete takes no record"))
			case eventsv1.Action_ACTION_BATCH:
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the records of a batch cannot be replaced; cancel it and create another"))
			}
			body, cid, err := parseRecord(&alfv1.CreateDraftRequest{Collection: d.Collection, Record: req.Msg.GetRecord()}, d.Action)
			if err != nil {
				return nil, connect.NewError(connect.CodeInvalidArgument, err)
			}
			ev.Record, ev.Cid = body, cid
		}
		return ev, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.UpdateDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) UnscheduleDraft(ctx context.Context, req *connect.Request[alfv1.UnscheduleDraftRequest]) (*connect.Response[alfv1.UnscheduleDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.g.update(ctx, did, req.Msg.GetUri(), func(d projection.Draft) (proto.Message, error) {
		if d.Status == projection.StatusDraft {
			return nil, nil
		}
		if err := changeable(d); err != nil {
			return nil, err
		}
		return &eventsv1.DraftUnscheduled{DraftId: d.ID}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.UnscheduleDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

func (s *drafts) RetryDraft(ctx context.Context, req *connect.Request[alfv1.RetryDraftRequest]) (*connect.Response[alfv1.RetryDraftResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.g.update(ctx, did, req.Msg.GetUri(), func(d projection.Draft) (proto.Message, error) {
		if d.Status != projection.StatusFailed {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("draft %s is %s; only failed drafts are retried", d.URI, d.Status))
		}
		return &eventsv1.DraftRetried{DraftId: d.ID}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&alfv1.RetryDraftResponse{Draft: s.g.draftMessage(ctx, d)}), nil
}

// changeable refuses commands on drafts that are being or have been
// published, failed or cancelled.
func changeable(d projection.Draft) error {
	if d.Status == projection.StatusDraft || d.Status == projection.StatusScheduled {
		return nil
	}
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("draft %s is %s", d.URI, d.Status))
}

// newDraft is a validated CreateDraft.
type newDraft struct {
	uri, collection, rkey string
	action                eventsv1.Action
	record                []byte
	cid                   string
	scheduledAt           *timestamppb.Timestamp
	trigger               bool
	writes                []*eventsv1.BatchWrite // of a batch
}

func (g *Gateway) parseNewDraft(did syntax.DID, req *alfv1.CreateDraftRequest) (newDraft, error) {
	if req.GetAction() == alfv1.DraftAction_DRAFT_ACTION_BATCH || len(req.GetWrites()) > 0 {
		return g.parseBatch(did, req)
	}
	if err := g.checkCollection(req.GetCollection()); err != nil {
		return newDraft{}, err
	}
	nd := newDraft{collection: req.GetCollection(), action: action(req.GetAction()), trigger: req.GetTrigger()}
	var err error
	if nd.rkey, err = parseRkey(req.GetRkey(), nd.action); err != nil {
		return newDraft{}, err
	}
	if at := req.GetScheduledAt(); at != nil {
		if err := at.CheckValid(); err != nil {
			return newDraft{}, fmt.Errorf("scheduled_at: %w", err)
		}
		nd.scheduledAt = at
	}
	if nd.record, nd.cid, err = parseRecord(req, nd.action); err != nil {
		return newDraft{}, err
	}
	nd.uri = "at://" + did.String() + "/" + nd.collection + "/" + nd.rkey
	return nd, nil
}

// parseBatch checks a batch draft: writes published in one commit.
func (g *Gateway) parseBatch(did syntax.DID, req *alfv1.CreateDraftRequest) (newDraft, error) {
	ws := req.GetWrites()
	if len(ws) == 0 || len(ws) > maxBatchWrites {
		return newDraft{}, fmt.Errorf("a batch holds 1 to %d writes", maxBatchWrites)
	}
	nd := newDraft{action: eventsv1.Action_ACTION_BATCH, trigger: req.GetTrigger()}
	if at := req.GetScheduledAt(); at != nil {
		if err := at.CheckValid(); err != nil {
			return newDraft{}, fmt.Errorf("scheduled_at: %w", err)
		}
		nd.scheduledAt = at
	}
	seen := map[string]bool{}
	for i, w := range ws {
		var value []byte
		if w.GetRecord() != nil {
			var err error
			if value, err = recordJSON(w.GetRecord()); err != nil {
				return newDraft{}, fmt.Errorf("writes/%d: %w", i, err)
			}
		}
		a := action(w.GetAction())
		if a == eventsv1.Action_ACTION_BATCH {
			return newDraft{}, fmt.Errorf("writes/%d: a write is a create, a put or a delete", i)
		}
		bw, err := g.checkWrite(a, w.GetCollection(), w.GetRkey(), value)
		if err != nil {
			return newDraft{}, fmt.Errorf("writes/%d: %w", i, err)
		}
		uri := "at://" + did.String() + "/" + bw.Collection + "/" + bw.Rkey
		if seen[uri] {
			return newDraft{}, fmt.Errorf("writes/%d: %s is written twice", i, uri)
		}
		seen[uri] = true
		nd.writes = append(nd.writes, bw)
	}
	nd.collection, nd.rkey = nd.writes[0].Collection, nd.writes[0].Rkey
	nd.uri = "at://" + did.String() + "/" + nd.collection + "/" + nd.rkey
	return nd, nil
}

// checkCollection refuses a collection that is not an NSID or that
// ALLOWED_COLLECTIONS leaves out: every write of either API goes through it.
func (g *Gateway) checkCollection(collection string) error {
	if _, err := syntax.ParseNSID(collection); err != nil {
		return errors.New("collection must be a valid NSID")
	}
	if g.cfg.Collections != nil && !g.cfg.Collections(collection) {
		return fmt.Errorf("collection %s is not allowed on this server", collection)
	}
	return nil
}

func action(a alfv1.DraftAction) eventsv1.Action {
	switch a {
	case alfv1.DraftAction_DRAFT_ACTION_PUT:
		return eventsv1.Action_ACTION_PUT
	case alfv1.DraftAction_DRAFT_ACTION_DELETE:
		return eventsv1.Action_ACTION_DELETE
	case alfv1.DraftAction_DRAFT_ACTION_BATCH:
		return eventsv1.Action_ACTION_BATCH
	}
	return eventsv1.Action_ACTION_CREATE
}

func parseRkey(rkey string, a eventsv1.Action) (string, error) {
	if rkey == "" {
		if a != eventsv1.Action_ACTION_CREATE {
			return "", errors.New("rkey is required for put and delete")
		}
		return syntax.NewTIDNow(0).String(), nil
	}
	k, err := syntax.ParseRecordKey(rkey)
	if err != nil {
		return "", fmt.Errorf("rkey must be a valid record key: %w", err)
	}
	return k.String(), nil
}

func parseRecord(req *alfv1.CreateDraftRequest, a eventsv1.Action) ([]byte, string, error) {
	if a == eventsv1.Action_ACTION_DELETE {
		if req.GetRecord() != nil {
			return nil, "", errors.New("a delete takes no record")
		}
		return nil, "", nil
	}
	if req.GetRecord() == nil {
		return nil, "", errors.New("record is required")
	}
	body, err := recordJSON(req.GetRecord())
	if err != nil {
		return nil, "", err
	}
	return record.Prepare(req.GetCollection(), body)
}

// create appends DraftCreated for a new lifecycle of nd.uri. A URI with an
// active draft is refused (after catching up with the log once); a race for
// the same URI is decided by the log. With MaxDrafts, the account's active
// drafts are counted and the append is guarded by the account's last draft
// event, so no race can exceed the cap.
func (g *Gateway) create(ctx context.Context, did syntax.DID, nd newDraft) (projection.Draft, error) {
	tries := 2
	if g.cfg.MaxDrafts > 0 {
		tries = 5 // publishes of the account's other drafts move the guard too
	}
	for try := 1; ; try++ {
		expected, guard := uint64(0), ""
		if g.cfg.MaxDrafts > 0 {
			n, seq := g.cfg.View.ActiveCountAt(did.String())
			if n >= g.cfg.MaxDrafts {
				return projection.Draft{}, connect.NewError(connect.CodeResourceExhausted,
					fmt.Errorf("Draft limit reached: you may have at most %d active drafts", g.cfg.MaxDrafts))
			}
			expected, guard = seq, events.AccountDraftsFilter(did.String())
		}
		lifecycle := uint32(1)
		if cur, ok := g.cfg.View.DraftByURI(nd.uri); ok {
			if !cur.Status.Terminal() {
				if try == 1 { // it may have ended in another process just now
					if err := g.catchUp(ctx); err != nil {
						return projection.Draft{}, err
					}
					continue
				}
				return projection.Draft{}, connect.NewError(connect.CodeAlreadyExists,
					fmt.Errorf("an active draft already exists for URI: %s", nd.uri))
			}
			lifecycle = cur.Lifecycle + 1
		}
		id := events.DraftID(nd.uri, lifecycle)
		created := &eventsv1.DraftCreated{
			DraftId: id, Uri: nd.uri, Did: did.String(), Collection: nd.collection, Rkey: nd.rkey,
			Action: nd.action, Record: nd.record, Cid: nd.cid, ScheduledAt: nd.scheduledAt, Lifecycle: lifecycle,
			Writes: nd.writes,
		}
		if nd.trigger && created.TriggerHash == "" {
			hash, err := g.newTrigger(ctx, id, did)
			if err != nil {
				return projection.Draft{}, err
			}
			created.TriggerHash = hash
		}
		env := events.New(did.String(), g.cfg.Clock.Now(), created)
		subject := events.DraftSubject(did.String(), id)
		seq, err := g.cfg.Store.AppendGuarded(ctx, subject, guardOr(guard, subject), expected, env)
		if errors.Is(err, events.ErrConflict) && try < tries {
			if err := g.catchUp(ctx); err != nil {
				return projection.Draft{}, err
			}
			continue
		}
		if err != nil {
			return projection.Draft{}, appendError(err)
		}
		return g.applied(ctx, id, seq)
	}
}

// guardOr is the guard of an append: guard, else the subject itself.
func guardOr(guard, subject string) string {
	if guard != "" {
		return guard
	}
	return subject
}

// update decides a command on the caller's draft of uri and appends its
// event at the draft's version.
func (g *Gateway) update(ctx context.Context, did syntax.DID, uri string, decide func(projection.Draft) (proto.Message, error)) (projection.Draft, error) {
	find := func() (projection.Draft, error) { return g.ownDraft(did, uri) }
	return g.change(ctx, did.String(), find, decide)
}

// change decides a command on the draft find returns and appends its event
// at the draft's version, deciding again once on fresh state after a
// conflict. A nil event means nothing to do.
func (g *Gateway) change(ctx context.Context, actor string, find func() (projection.Draft, error), decide func(projection.Draft) (proto.Message, error)) (projection.Draft, error) {
	for try := 0; ; try++ {
		d, err := find()
		if err != nil {
			return projection.Draft{}, err
		}
		ev, err := decide(d)
		if err != nil || ev == nil {
			return d, err
		}
		env := events.New(actor, g.cfg.Clock.Now(), ev)
		seq, err := g.cfg.Store.Append(ctx, events.DraftSubject(d.DID, d.ID), d.Version, env)
		if errors.Is(err, events.ErrConflict) && try == 0 {
			if err := g.catchUp(ctx); err != nil {
				return projection.Draft{}, err
			}
			continue
		}
		if err != nil {
			return projection.Draft{}, appendError(err)
		}
		return g.applied(ctx, d.ID, seq)
	}
}

func appendError(err error) error {
	if errors.Is(err, events.ErrConflict) {
		return connect.NewError(connect.CodeAborted, err)
	}
	return connect.NewError(connect.CodeUnavailable, err)
}

// applied returns the draft as the projection shows it after seq.
func (g *Gateway) applied(ctx context.Context, id string, seq uint64) (projection.Draft, error) {
	if err := g.waitView(ctx, seq); err != nil {
		return projection.Draft{}, err
	}
	d, _ := g.cfg.View.Draft(id)
	return d, nil
}

// ownDraft finds the newest draft of uri, which must be in the caller's repo.
func (g *Gateway) ownDraft(did syntax.DID, uri string) (projection.Draft, error) {
	u, err := syntax.ParseATURI(uri)
	if err != nil {
		return projection.Draft{}, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("uri must be a valid AT-URI: %w", err))
	}
	owner, err := u.Authority().AsDID()
	if err != nil {
		return projection.Draft{}, connect.NewError(connect.CodeInvalidArgument, errors.New("uri must name the repo by DID"))
	}
	if owner != did {
		return projection.Draft{}, connect.NewError(connect.CodePermissionDenied, errors.New("the draft is not in your repo"))
	}
	d, ok := g.cfg.View.DraftByURI(uri)
	if !ok {
		return projection.Draft{}, connect.NewError(connect.CodeNotFound, fmt.Errorf("no draft for %s", uri))
	}
	return d, nil
}

// attemptsBefore is the number of attempts whose outcome is already known
// when a publish is asked for: a claim under way is the one awaited.
func attemptsBefore(d projection.Draft) uint32 {
	if d.Status == projection.StatusPublishing && d.Attempts > 0 {
		return d.Attempts - 1
	}
	return d.Attempts
}

// awaitOutcome waits, up to PublishWait, until a draft asked to publish has
// the outcome of an attempt after the first `before` (or has ended), and
// returns it as it then stands. The view may already be past the request
// (a fast publisher): attempts, not versions, tell.
func (g *Gateway) awaitOutcome(ctx context.Context, id string, before uint32) projection.Draft {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PublishWait)
	defer cancel()
	for {
		seq := g.cfg.View.Seq() // before reading the draft: no change can slip between
		cur, _ := g.cfg.View.Draft(id)
		if cur.Status.Terminal() || cur.Attempts > before && cur.Status != projection.StatusPublishing {
			return cur
		}
		if err := g.cfg.View.WaitFor(ctx, seq+1); err != nil {
			return cur
		}
	}
}

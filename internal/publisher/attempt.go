package publisher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
)

// attempt performs the draft's write once and says what became of it.
func (p *Publisher) attempt(ctx context.Context, d projection.Draft, c projection.Claim) outcome {
	client, err := p.cfg.Accounts.Client(ctx, syntax.DID(d.DID))
	switch {
	case errors.Is(err, pds.ErrNoSession):
		return outcome{kind: failed, reason: reasonNoAuthorization}
	case errors.Is(err, pds.ErrRevoked):
		return outcome{kind: failed, reason: reasonReauthorize, revoked: true}
	case err != nil:
		return p.cfg.Policy.classify(fmt.Errorf("open session: %w", err), c.Attempt, p.cfg.Clock.Now())
	}
	switch d.Action {
	case eventsv1.Action_ACTION_DELETE:
		return p.remove(ctx, client, d, c)
	case eventsv1.Action_ACTION_BATCH:
		return p.writeBatch(ctx, client, d, c)
	}
	return p.write(ctx, client, d, c)
}

// write uploads the record's blobs, then creates or puts the record with
// createdAt set to the claim's time.
func (p *Publisher) write(ctx context.Context, client pds.Client, d projection.Draft, c projection.Claim) outcome {
	body, err := record.WithCreatedAt(d.Record, c.WriteTime)
	if err != nil {
		return outcome{kind: failed, reason: truncate(err.Error())}
	}
	if err := p.uploadBlobs(ctx, client, d); err != nil {
		if errors.Is(err, pds.ErrRevoked) {
			return outcome{kind: failed, reason: reasonReauthorize, revoked: true}
		}
		return p.cfg.Policy.classify(err, c.Attempt, p.cfg.Clock.Now())
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	var res pds.Result
	if d.Action == eventsv1.Action_ACTION_PUT {
		res, err = client.PutRecord(wctx, d.Collection, d.Rkey, body)
	} else {
		res, err = client.CreateRecord(wctx, d.Collection, d.Rkey, body)
	}
	cancel()
	if err == nil {
		return outcome{kind: published, cid: res.CID, rev: res.Rev}
	}
	if errors.Is(err, pds.ErrRevoked) {
		return outcome{kind: failed, reason: reasonReauthorize, revoked: true}
	}
	if pds.UnknownOutcome(err) {
		if cid, ok := p.readBack(ctx, client, d, c); ok {
			return outcome{kind: published, cid: cid}
		}
	}
	return p.cfg.Policy.classify(err, c.Attempt, p.cfg.Clock.Now())
}

// remove deletes the record; a record already gone counts as deleted.
func (p *Publisher) remove(ctx context.Context, client pds.Client, d projection.Draft, c projection.Claim) outcome {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	res, err := client.DeleteRecord(wctx, d.Collection, d.Rkey)
	cancel()
	if err == nil {
		return outcome{kind: published, rev: res.Rev}
	}
	if errors.Is(err, pds.ErrRevoked) {
		return outcome{kind: failed, reason: reasonReauthorize, revoked: true}
	}
	if pds.UnknownOutcome(err) {
		rctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		_, _, gerr := client.GetRecord(rctx, d.Collection, d.Rkey)
		cancel()
		if errors.Is(gerr, pds.ErrNotFound) {
			return outcome{kind: published}
		}
	}
	return p.cfg.Policy.classify(err, c.Attempt, p.cfg.Clock.Now())
}

// readBack reports whether the PDS holds this draft's record as written by
// one of its attempts (each attempt wrote its own createdAt), and its CID.
func (p *Publisher) readBack(ctx context.Context, client pds.Client, d projection.Draft, c projection.Claim) (string, bool) {
	rctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	got, _, err := client.GetRecord(rctx, d.Collection, d.Rkey)
	cancel()
	if err != nil {
		return "", false
	}
	times := slices.Concat(d.WriteTimes, []time.Time{c.WriteTime})
	for _, wt := range times {
		body, err := record.WithCreatedAt(d.Record, wt)
		if err != nil {
			return "", false
		}
		cid, err := record.CID(body)
		if err == nil && cid == got {
			return got, true
		}
	}
	return "", false
}

// revoke records that the account's session is dead, so the account shows
// as needing authorization again. Best effort: the draft's failure already
// says so.
func (p *Publisher) revoke(ctx context.Context, did string) {
	acct, ok := p.cfg.View.Account(did)
	if !ok || !acct.Authorized {
		return
	}
	env := events.New(Actor, p.cfg.Clock.Now(), &eventsv1.AccountRevoked{Did: did, Reason: reasonReauthorize})
	if _, err := p.cfg.Store.Append(ctx, events.AccountSubject(did), acct.Version, env); err != nil {
		p.cfg.Log.Warn("record account revoked", "err", err)
	}
}

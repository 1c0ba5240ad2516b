package publisher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
)

// A batch draft goes out in one com.atproto.repo.applyWrites commit: a
// thread, or a post and its reply, appear together. Each record gets the
// write time as its createdAt, which changes its CID; a record that
// references an earlier write of the batch by a strong ref ({uri, cid}, as
// a reply does) gets that write's new CID, so the thread stays linked.

// batchWrites are the writes to send for write time wt, with the CID each
// create or update will have.
func batchWrites(did string, ws []*eventsv1.BatchWrite, wt time.Time) ([]pds.Write, []string, error) {
	out := make([]pds.Write, 0, len(ws))
	cids := make([]string, 0, len(ws))
	newCID := map[string]string{} // AT-URI of an earlier write → its CID as sent
	for _, w := range ws {
		pw := pds.Write{Action: batchAction(w.GetAction()), Collection: w.GetCollection(), Rkey: w.GetRkey()}
		if w.GetAction() == eventsv1.Action_ACTION_DELETE {
			out, cids = append(out, pw), append(cids, "")
			continue
		}
		body, err := relink(w.GetRecord(), newCID)
		if err != nil {
			return nil, nil, err
		}
		if body, err = record.WithCreatedAt(body, wt); err != nil {
			return nil, nil, err
		}
		cid, err := record.CID(body)
		if err != nil {
			return nil, nil, err
		}
		newCID["at://"+did+"/"+w.GetCollection()+"/"+w.GetRkey()] = cid
		pw.Value = body
		out, cids = append(out, pw), append(cids, cid)
	}
	return out, cids, nil
}

func batchAction(a eventsv1.Action) string {
	switch a {
	case eventsv1.Action_ACTION_PUT:
		return pds.ActionUpdate
	case eventsv1.Action_ACTION_DELETE:
		return pds.ActionDelete
	}
	return pds.ActionCreate
}

// relink sets the cid of every strong ref to a URI in cids. A record with no
// such ref is returned byte for byte.
func relink(body []byte, cids map[string]string) ([]byte, error) {
	if len(cids) == 0 || !bytes.Contains(body, []byte(`"cid"`)) {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", record.ErrInvalid, err)
	}
	if !relinkValue(v, cids) {
		return body, nil
	}
	return json.Marshal(v)
}

func relinkValue(v any, cids map[string]string) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if uri, ok := x["uri"].(string); ok {
			if cid, ok := cids[uri]; ok {
				if _, isString := x["cid"].(string); isString && x["cid"] != cid {
					x["cid"] = cid
					changed = true
				}
			}
		}
		for _, e := range x {
			changed = relinkValue(e, cids) || changed
		}
	case []any:
		for _, e := range x {
			changed = relinkValue(e, cids) || changed
		}
	}
	return changed
}

// writeBatch uploads the blobs of every record and applies the writes in one
// commit.
func (p *Publisher) writeBatch(ctx context.Context, client pds.Client, d projection.Draft, c projection.Claim) outcome {
	writes, cids, err := batchWrites(d.DID, d.Writes, c.WriteTime)
	if err != nil {
		return outcome{kind: failed, reason: truncate(err.Error())}
	}
	for _, w := range writes {
		if err := p.uploadRecordBlobs(ctx, client, d.DID, w.Value); err != nil {
			return p.failure(err, c)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	res, err := client.ApplyWrites(wctx, writes)
	cancel()
	if err == nil {
		var rev string
		if len(res) > 0 {
			rev = res[0].Rev
		}
		return outcome{kind: published, cid: cids[0], rev: rev}
	}
	if pds.UnknownOutcome(err) && p.batchReadBack(ctx, client, d, c) {
		return outcome{kind: published, cid: cids[0]}
	}
	return p.failure(err, c)
}

// batchReadBack reports whether the PDS holds the batch as written by one
// of the draft's attempts: every create and update with its CID, every
// delete gone (one commit: all or none).
func (p *Publisher) batchReadBack(ctx context.Context, client pds.Client, d projection.Draft, c projection.Claim) bool {
	got := make([]string, len(d.Writes))
	for i, w := range d.Writes {
		rctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		cid, _, err := client.GetRecord(rctx, w.GetCollection(), w.GetRkey())
		cancel()
		switch {
		case errors.Is(err, pds.ErrNotFound):
		case err != nil:
			return false
		default:
			got[i] = cid
		}
	}
	for _, wt := range slices.Concat(d.WriteTimes, []time.Time{c.WriteTime}) {
		if _, want, err := batchWrites(d.DID, d.Writes, wt); err == nil && slices.Equal(got, want) {
			return true
		}
	}
	return false
}

// failure turns an error of an attempt into its outcome.
func (p *Publisher) failure(err error, c projection.Claim) outcome {
	if errors.Is(err, pds.ErrRevoked) {
		return outcome{kind: failed, reason: reasonReauthorize, revoked: true}
	}
	return p.cfg.Policy.classify(err, c.Attempt, p.cfg.Clock.Now())
}

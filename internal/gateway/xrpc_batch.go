package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/record"
)

// maxBatchWrites is the most writes one applyWrites draft may hold (the
// PDS's own limit).
const maxBatchWrites = 200

// applyWritesInput is com.atproto.repo.applyWrites's body, records kept as
// the client's bytes.
type applyWritesInput struct {
	Repo   string `json:"repo"`
	Writes []struct {
		Type       string          `json:"$type"`
		Collection string          `json:"collection"`
		Rkey       string          `json:"rkey"`
		Value      json.RawMessage `json:"value"`
	} `json:"writes"`
}

// applyWrites keeps several writes as one draft, published in one commit:
// a thread, or a post and its reply, go out together.
func (g *Gateway) applyWrites(ctx context.Context, req *xrpcRequest) (any, error) {
	var in applyWritesInput
	if err := json.Unmarshal(req.body, &in); err != nil {
		return nil, invalid("Input must be a JSON object")
	}
	if in.Repo != req.did.String() {
		return nil, invalid("repo must match authenticated user")
	}
	if len(in.Writes) == 0 || len(in.Writes) > maxBatchWrites {
		return nil, invalid(fmt.Sprintf("writes must hold 1 to %d writes", maxBatchWrites))
	}
	nd := newDraft{action: eventsv1.Action_ACTION_BATCH, trigger: req.header.Get(headerTrigger) == "webhook"}
	var err error
	if nd.scheduledAt, err = scheduledAtHeader(req.header.Get(headerScheduledAt)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	results := make([]map[string]any, 0, len(in.Writes))
	for i, w := range in.Writes {
		bw, err := g.batchWrite(i, w.Type, w.Collection, w.Rkey, w.Value)
		if err != nil {
			return nil, err
		}
		uri := "at://" + req.did.String() + "/" + bw.Collection + "/" + bw.Rkey
		if seen[uri] {
			return nil, invalid(fmt.Sprintf("writes/%d: %s is written twice", i, uri))
		}
		seen[uri] = true
		nd.writes = append(nd.writes, bw)
		results = append(results, batchResult(w.Type, uri, bw.Cid))
	}
	first := nd.writes[0]
	nd.collection, nd.rkey = first.Collection, first.Rkey
	nd.uri = "at://" + req.did.String() + "/" + nd.collection + "/" + nd.rkey
	d, err := g.create(ctx, req.did, nd)
	if err != nil {
		return nil, repoWriteError(err, nd.uri)
	}
	out := map[string]any{"results": results}
	if url := g.triggerURL(ctx, d); url != "" {
		out["triggerUrl"] = url
	}
	return out, nil
}

// batchWrite checks one write of applyWrites.
func (g *Gateway) batchWrite(i int, typ, collection, rkey string, value json.RawMessage) (*eventsv1.BatchWrite, error) {
	at := fmt.Sprintf("writes/%d: ", i)
	var action eventsv1.Action
	switch strings.TrimPrefix(typ, "com.atproto.repo.applyWrites") {
	case "#create":
		action = eventsv1.Action_ACTION_CREATE
	case "#update":
		action = eventsv1.Action_ACTION_PUT
	case "#delete":
		action = eventsv1.Action_ACTION_DELETE
	default:
		return nil, invalid(at + "$type must be #create, #update or #delete")
	}
	bw, err := g.checkWrite(action, collection, rkey, value)
	if err != nil {
		return nil, invalid(at + err.Error())
	}
	return bw, nil
}

// checkWrite checks one write of a batch, from either API.
func (g *Gateway) checkWrite(action eventsv1.Action, collection, rkey string, value []byte) (*eventsv1.BatchWrite, error) {
	if err := g.checkCollection(collection); err != nil {
		return nil, err
	}
	key, err := parseRkey(rkey, action)
	if err != nil {
		return nil, err
	}
	bw := &eventsv1.BatchWrite{Action: action, Collection: collection, Rkey: key}
	if action == eventsv1.Action_ACTION_DELETE {
		if len(value) > 0 {
			return nil, errors.New("a delete takes no record")
		}
		return bw, nil
	}
	if bw.Record, bw.Cid, err = record.Prepare(collection, value); err != nil {
		return nil, err
	}
	return bw, nil
}

func batchResult(typ, uri, cid string) map[string]any {
	r := map[string]any{"$type": "com.atproto.repo.applyWrites" + strings.TrimPrefix(typ, "com.atproto.repo.applyWrites") + "Result"}
	if cid != "" {
		r["uri"], r["cid"], r["validationStatus"] = uri, cid, "unknown"
	}
	return r
}

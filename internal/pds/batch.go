package pds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

const nsidApplyWrites = syntax.NSID("com.atproto.repo.applyWrites")

// Write actions of ApplyWrites.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Write is one write of an ApplyWrites commit. Value is the record's JSON,
// sent as it is; deletes have none.
type Write struct {
	Action     string // ActionCreate, ActionUpdate or ActionDelete
	Collection string
	Rkey       string
	Value      []byte
}

type applyWrite struct {
	Type       string          `json:"$type"`
	Collection string          `json:"collection"`
	Rkey       string          `json:"rkey"`
	Value      json.RawMessage `json:"value,omitempty"`
}

type applyInput struct {
	Repo   string       `json:"repo"`
	Writes []applyWrite `json:"writes"`
}

type applyOutput struct {
	Commit struct {
		Rev string `json:"rev"`
	} `json:"commit"`
	Results []struct {
		URI string `json:"uri"`
		CID string `json:"cid"`
	} `json:"results"`
}

// ApplyWrites sends the writes as one com.atproto.repo.applyWrites call.
// Every Result has the commit's Rev and the write's URI; CID is empty for
// deletes (and if the PDS reports no results).
func (c *xrpcClient) ApplyWrites(ctx context.Context, writes []Write) ([]Result, error) {
	in, err := c.applyInput(writes)
	if err != nil {
		return nil, fmt.Errorf("applyWrites for %s: %w", c.did, err)
	}
	body, err := encodeJSON(in)
	if err != nil {
		return nil, fmt.Errorf("applyWrites for %s: encode: %w", c.did, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out applyOutput
	if err := call(ctx, c.api, atclient.MethodProcedure, nsidApplyWrites, nil, body, &out); err != nil {
		return nil, fmt.Errorf("applyWrites (%d writes) for %s: %w", len(writes), c.did, err)
	}
	res := make([]Result, len(writes))
	for i, w := range writes {
		res[i] = Result{URI: c.uri(w.Collection, w.Rkey), Rev: out.Commit.Rev}
		if i < len(out.Results) && w.Action != ActionDelete {
			res[i].CID = out.Results[i].CID
		}
	}
	return res, nil
}

// applyInput checks the writes and turns them into the call's input.
func (c *xrpcClient) applyInput(writes []Write) (applyInput, error) {
	if len(writes) == 0 {
		return applyInput{}, errors.New("no writes")
	}
	in := applyInput{Repo: c.did.String(), Writes: make([]applyWrite, len(writes))}
	for i, w := range writes {
		aw, err := w.input()
		if err != nil {
			return applyInput{}, fmt.Errorf("write %d (%s %s): %w", i, w.Action, c.uri(w.Collection, w.Rkey), err)
		}
		in.Writes[i] = aw
	}
	return in, nil
}

func (w Write) input() (applyWrite, error) {
	if err := checkRef(w.Collection, w.Rkey); err != nil {
		return applyWrite{}, err
	}
	aw := applyWrite{Type: string(nsidApplyWrites) + "#" + w.Action, Collection: w.Collection, Rkey: w.Rkey}
	switch w.Action {
	case ActionCreate, ActionUpdate:
		if !json.Valid(w.Value) {
			return applyWrite{}, errors.New("record is not valid JSON")
		}
		aw.Value = w.Value
	case ActionDelete:
		if w.Value != nil {
			return applyWrite{}, errors.New("a delete takes no record")
		}
	default:
		return applyWrite{}, fmt.Errorf("unknown action %q (want create, update or delete)", w.Action)
	}
	return aw, nil
}

package pds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// xrpcClient is a Client over atclient; auth decides how requests are
// authorized.
type xrpcClient struct {
	did     syntax.DID
	api     *atclient.APIClient
	timeout time.Duration
}

var _ Client = (*xrpcClient)(nil)

const (
	nsidCreate = syntax.NSID("com.atproto.repo.createRecord")
	nsidPut    = syntax.NSID("com.atproto.repo.putRecord")
	nsidDelete = syntax.NSID("com.atproto.repo.deleteRecord")
	nsidGet    = syntax.NSID("com.atproto.repo.getRecord")
)

type writeInput struct {
	Repo       string          `json:"repo"`
	Collection string          `json:"collection"`
	Rkey       string          `json:"rkey"`
	Record     json.RawMessage `json:"record,omitempty"`
}

type writeOutput struct {
	URI    string `json:"uri"`
	CID    string `json:"cid"`
	Commit struct {
		Rev string `json:"rev"`
	} `json:"commit"`
}

func (c *xrpcClient) DID() syntax.DID { return c.did }

// String names the client's account, and nothing of its session.
func (c *xrpcClient) String() string { return "pds.Client(" + c.did.String() + ")" }

func (c *xrpcClient) CreateRecord(ctx context.Context, collection, rkey string, record []byte) (Result, error) {
	return c.write(ctx, nsidCreate, collection, rkey, record)
}

func (c *xrpcClient) PutRecord(ctx context.Context, collection, rkey string, record []byte) (Result, error) {
	return c.write(ctx, nsidPut, collection, rkey, record)
}

func (c *xrpcClient) DeleteRecord(ctx context.Context, collection, rkey string) (Result, error) {
	res, err := c.write(ctx, nsidDelete, collection, rkey, nil)
	if err != nil {
		return Result{}, err
	}
	res.URI = c.uri(collection, rkey)
	return res, nil
}

func (c *xrpcClient) GetRecord(ctx context.Context, collection, rkey string) (string, []byte, error) {
	if err := checkRef(collection, rkey); err != nil {
		return "", nil, err
	}
	q := map[string][]string{"repo": {c.did.String()}, "collection": {collection}, "rkey": {rkey}}
	var out struct {
		CID   string          `json:"cid"`
		Value json.RawMessage `json:"value"`
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := call(ctx, c.api, atclient.MethodQuery, nsidGet, q, nil, &out)
	var pe *Error
	if errors.As(err, &pe) && (pe.Name == "RecordNotFound" || pe.Status == 404) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("getRecord %s: %w", c.uri(collection, rkey), err)
	}
	return out.CID, out.Value, nil
}

func (c *xrpcClient) write(ctx context.Context, nsid syntax.NSID, collection, rkey string, record []byte) (Result, error) {
	if err := checkRef(collection, rkey); err != nil {
		return Result{}, err
	}
	if nsid != nsidDelete && !json.Valid(record) {
		return Result{}, fmt.Errorf("%s %s: record is not valid JSON", nsid.Name(), c.uri(collection, rkey))
	}
	body, err := encodeJSON(writeInput{Repo: c.did.String(), Collection: collection, Rkey: rkey, Record: record})
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: encode: %w", nsid.Name(), c.uri(collection, rkey), err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out writeOutput
	if err := call(ctx, c.api, atclient.MethodProcedure, nsid, nil, body, &out); err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", nsid.Name(), c.uri(collection, rkey), err)
	}
	return Result{URI: out.URI, CID: out.CID, Rev: out.Commit.Rev}, nil
}

func (c *xrpcClient) uri(collection, rkey string) string {
	return "at://" + c.did.String() + "/" + collection + "/" + rkey
}

func checkRef(collection, rkey string) error {
	if _, err := syntax.ParseNSID(collection); err != nil {
		return fmt.Errorf("collection %q: %w", collection, err)
	}
	if _, err := syntax.ParseRecordKey(rkey); err != nil {
		return fmt.Errorf("rkey %q: %w", rkey, err)
	}
	return nil
}

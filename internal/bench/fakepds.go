// Package bench holds alf's pipeline benchmarks and the fake PDS they
// publish to. The benchmarks live in this package's test files and run only
// with -bench:
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/bench/
//
// BenchmarkIngest measures CreateDraft over HTTP, BenchmarkDueBurst how late
// 10,000 drafts due at one instant reach the PDS, BenchmarkLoneDraft how late
// a single due draft does, BenchmarkXRPCIngest measures createRecord over
// XRPC. docs/benchmarks.md has the figures.
//
// FakePDS stands in for every user's PDS at once: it answers each write at
// once, keeps the records in memory and notes when each write arrived, so a
// benchmark can tell how late alf was. It does not compute a record's CID
// when it is written (a real PDS spends that CPU on its own machine; here it
// would be charged to alf): writes answer without a CID, and GetRecord
// computes it when a record is read back. Give it to a node as its Accounts:
//
//	fake := bench.NewFakePDS()
//	n, err := node.Start(ctx, node.Options{..., Accounts: fake})
//	fake.WaitWrites(ctx, 1)
//	late := fake.Writes()[0].At.Sub(due)
package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/record"
)

// Op is the kind of a write.
type Op string

// The write operations of com.atproto.repo.
const (
	OpCreate Op = "create"
	OpPut    Op = "put"
	OpDelete Op = "delete"
)

// Write is one write the fake PDS received.
type Write struct {
	DID        syntax.DID
	Collection string
	Rkey       string
	Op         Op
	// At is when the write arrived, before any work on it.
	At time.Time
	// Err is the refusal the PDS answered with ("" when it was applied).
	Err string
}

// FakePDS is an in-memory PDS for every account. It is safe for concurrent
// use.
type FakePDS struct {
	mu      sync.Mutex
	records map[string]stored // "did/collection/rkey"
	writes  []Write
	changed chan struct{} // closed and replaced on every write
}

type stored struct {
	value []byte // never changed once stored
}

// NewFakePDS returns an empty fake PDS.
func NewFakePDS() *FakePDS {
	return &FakePDS{records: make(map[string]stored), changed: make(chan struct{})}
}

// Client returns a client writing did's repository; it never fails. With it
// a FakePDS is a publisher.Accounts.
func (f *FakePDS) Client(_ context.Context, did syntax.DID) (pds.Client, error) {
	return &fakeClient{f: f, did: did}, nil
}

// Writes returns a copy of every write received so far, in arrival order.
func (f *FakePDS) Writes() []Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Write(nil), f.writes...)
}

// Len is the number of writes received so far.
func (f *FakePDS) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes)
}

// WaitWrites blocks until at least n writes have arrived, or ctx ends.
func (f *FakePDS) WaitWrites(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		got, ch := len(f.writes), f.changed
		f.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d writes (have %d): %w", n, got, ctx.Err())
		}
	}
}

// Reset forgets every record and write.
func (f *FakePDS) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = make(map[string]stored)
	f.writes = nil
}

// apply runs change on the records under the lock and records w with
// change's answer (nil: applied).
func (f *FakePDS) apply(w Write, change func(map[string]stored) error) error {
	return f.applyAll([]Write{w}, change)
}

// applyAll is apply for the writes of one commit.
func (f *FakePDS) applyAll(ws []Write, change func(map[string]stored) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := change(f.records)
	for _, w := range ws {
		if err != nil {
			w.Err = err.Error()
		}
		f.writes = append(f.writes, w)
	}
	close(f.changed)
	f.changed = make(chan struct{})
	return err
}

func recordKey(did syntax.DID, collection, rkey string) string {
	return did.String() + "/" + collection + "/" + rkey
}

type fakeClient struct {
	f   *FakePDS
	did syntax.DID
}

func (c *fakeClient) DID() syntax.DID { return c.did }

func (c *fakeClient) CreateRecord(_ context.Context, collection, rkey string, body []byte) (pds.Result, error) {
	return c.write(OpCreate, collection, rkey, body)
}

func (c *fakeClient) PutRecord(_ context.Context, collection, rkey string, body []byte) (pds.Result, error) {
	return c.write(OpPut, collection, rkey, body)
}

// write stores a record; a create refuses an rkey in use, as a PDS does.
func (c *fakeClient) write(op Op, collection, rkey string, body []byte) (pds.Result, error) {
	w := Write{DID: c.did, Collection: collection, Rkey: rkey, Op: op, At: time.Now()}
	key := recordKey(c.did, collection, rkey)
	err := c.f.apply(w, func(recs map[string]stored) error {
		if _, ok := recs[key]; ok && op == OpCreate {
			return &pds.Error{Status: http.StatusBadRequest, Name: "InvalidRequest", Message: "Record already exists"}
		}
		recs[key] = stored{value: append([]byte(nil), body...)}
		return nil
	})
	if err != nil {
		return pds.Result{}, err
	}
	return c.result(collection, rkey, ""), nil
}

func (c *fakeClient) DeleteRecord(_ context.Context, collection, rkey string) (pds.Result, error) {
	w := Write{DID: c.did, Collection: collection, Rkey: rkey, Op: OpDelete, At: time.Now()}
	key := recordKey(c.did, collection, rkey)
	_ = c.f.apply(w, func(recs map[string]stored) error {
		delete(recs, key) // deleting a missing record succeeds, as on a PDS
		return nil
	})
	return c.result(collection, rkey, ""), nil
}

func (c *fakeClient) GetRecord(_ context.Context, collection, rkey string) (string, []byte, error) {
	c.f.mu.Lock()
	s, ok := c.f.records[recordKey(c.did, collection, rkey)]
	c.f.mu.Unlock()
	if !ok {
		return "", nil, fmt.Errorf("get %s/%s: %w", collection, rkey, pds.ErrNotFound)
	}
	cid, err := record.CID(s.value)
	if err != nil {
		return "", nil, &pds.Error{Status: http.StatusInternalServerError, Name: "InternalServerError", Message: err.Error()}
	}
	return cid, s.value, nil
}

// UploadBlob reads the bytes and answers their blob ref; it keeps nothing.
func (c *fakeClient) UploadBlob(_ context.Context, mimeType string, data io.Reader, _ int64) (pds.BlobRef, error) {
	b, err := io.ReadAll(data)
	if err != nil {
		return pds.BlobRef{}, fmt.Errorf("read blob: %w", err)
	}
	return pds.BlobRef{CID: record.BlobCID(b), MimeType: mimeType, Size: int64(len(b))}, nil
}

var batchOps = map[string]Op{pds.ActionCreate: OpCreate, pds.ActionUpdate: OpPut, pds.ActionDelete: OpDelete}

// ApplyWrites applies every write, or none if a create finds its rkey in
// use or an action is unknown; each write is noted on its own.
func (c *fakeClient) ApplyWrites(_ context.Context, writes []pds.Write) ([]pds.Result, error) {
	at := time.Now()
	ws := make([]Write, len(writes))
	for i, w := range writes {
		ws[i] = Write{DID: c.did, Collection: w.Collection, Rkey: w.Rkey, Op: batchOps[w.Action], At: at}
	}
	err := c.f.applyAll(ws, func(recs map[string]stored) error {
		for _, w := range writes {
			_, exists := recs[recordKey(c.did, w.Collection, w.Rkey)]
			if batchOps[w.Action] == "" || (exists && w.Action == pds.ActionCreate) {
				return &pds.Error{Status: http.StatusBadRequest, Name: "InvalidRequest", Message: "Invalid write " + w.Action + " " + w.Collection + "/" + w.Rkey}
			}
		}
		for _, w := range writes {
			key := recordKey(c.did, w.Collection, w.Rkey)
			if w.Action == pds.ActionDelete {
				delete(recs, key)
				continue
			}
			recs[key] = stored{value: append([]byte(nil), w.Value...)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := make([]pds.Result, len(writes))
	for i, w := range writes {
		res[i] = c.result(w.Collection, w.Rkey, "")
	}
	return res, nil
}

func (c *fakeClient) result(collection, rkey, cid string) pds.Result {
	return pds.Result{
		URI: "at://" + c.did.String() + "/" + collection + "/" + rkey,
		CID: cid,
		Rev: syntax.NewTIDNow(0).String(),
	}
}

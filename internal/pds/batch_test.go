package pds

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/record"
)

type appliedWrite struct {
	Type       string          `json:"$type"`
	Collection string          `json:"collection"`
	Rkey       string          `json:"rkey"`
	Value      json.RawMessage `json:"value"`
}

// serveApplyWrites makes f answer applyWrites like a PDS (all or nothing; a
// create of an existing record fails the commit), and returns the raw
// bodies of the calls that got through. withResults false answers without
// "results", as older PDSs may.
func serveApplyWrites(f *fakePDS, withResults bool) func() []string {
	var bodies []string
	f.set(func(f *fakePDS) {
		f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
			if nsid != string(nsidApplyWrites) {
				return false
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !f.checkAccess(w, r) {
				return true
			}
			raw, _ := io.ReadAll(r.Body)
			bodies = append(bodies, string(raw))
			var in struct {
				Repo   string
				Writes []appliedWrite
			}
			if err := json.Unmarshal(raw, &in); err != nil || in.Repo != f.did {
				xrpcError(w, 400, "InvalidRequest", "bad input")
				return true
			}
			results, err := f.applyAll(in.Writes)
			if err != nil {
				xrpcError(w, 400, "InvalidRequest", err.Error())
				return true
			}
			out := map[string]any{"commit": map[string]string{"cid": "bafycommit", "rev": "rev-batch"}}
			if withResults {
				out["results"] = results
			}
			writeJSON(w, 200, out)
			return true
		}
	})
	return func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

// applyAll applies the writes to f.records, or none of them; the caller
// holds f.mu.
func (f *fakePDS) applyAll(writes []appliedWrite) ([]map[string]string, error) {
	for _, w := range writes {
		_, exists := f.records[w.Collection+"/"+w.Rkey]
		if w.Type == "com.atproto.repo.applyWrites#create" && exists {
			return nil, errors.New("Record already exists")
		}
	}
	var results []map[string]string
	for _, w := range writes {
		key := w.Collection + "/" + w.Rkey
		switch w.Type {
		case "com.atproto.repo.applyWrites#delete":
			delete(f.records, key)
			results = append(results, map[string]string{"$type": w.Type + "Result"})
		default:
			f.records[key] = w.Value
			c, _ := record.CID(w.Value)
			results = append(results, map[string]string{"$type": w.Type + "Result", "uri": "at://" + f.did + "/" + key, "cid": c})
		}
	}
	return results, nil
}

func TestApplyWrites(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	bodies := serveApplyWrites(f, true)
	s, _, _ := connected(t, f)
	c, _ := s.Client(ctx, fakeDID)
	f.set(func(f *fakePDS) { f.records["app.bsky.feed.post/3kold"] = json.RawMessage(`{"text":"old"}`) })

	// Key order and "<" stay as written: the record's bytes are sent as they are.
	post := []byte(`{"text":"a <b> c","$type":"app.bsky.feed.post","createdAt":"2026-03-01T09:00:00.000Z"}`)
	profile := []byte(`{"$type":"app.bsky.actor.profile","displayName":"x"}`)
	writes := []Write{
		{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3knew", Value: post},
		{Action: ActionUpdate, Collection: "app.bsky.actor.profile", Rkey: "self", Value: profile},
		{Action: ActionDelete, Collection: "app.bsky.feed.post", Rkey: "3kold"},
	}
	res, err := c.ApplyWrites(ctx, writes)
	if err != nil {
		t.Fatalf("ApplyWrites: %v", err)
	}
	postCID, _ := record.CID(post)
	profileCID, _ := record.CID(profile)
	want := []Result{
		{URI: "at://" + fakeDID + "/app.bsky.feed.post/3knew", CID: postCID, Rev: "rev-batch"},
		{URI: "at://" + fakeDID + "/app.bsky.actor.profile/self", CID: profileCID, Rev: "rev-batch"},
		{URI: "at://" + fakeDID + "/app.bsky.feed.post/3kold", Rev: "rev-batch"},
	}
	if len(res) != len(want) {
		t.Fatalf("ApplyWrites = %+v, want %+v", res, want)
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
	sent := bodies()
	if len(sent) != 1 {
		t.Fatalf("%d applyWrites calls, want 1", len(sent))
	}
	wantBody := `{"repo":"` + fakeDID + `","writes":[` +
		`{"$type":"com.atproto.repo.applyWrites#create","collection":"app.bsky.feed.post","rkey":"3knew","value":` + string(post) + `},` +
		`{"$type":"com.atproto.repo.applyWrites#update","collection":"app.bsky.actor.profile","rkey":"self","value":` + string(profile) + `},` +
		`{"$type":"com.atproto.repo.applyWrites#delete","collection":"app.bsky.feed.post","rkey":"3kold"}]}`
	if sent[0] != wantBody {
		t.Errorf("body sent:\n%s\nwant:\n%s", sent[0], wantBody)
	}
	if _, _, err := c.GetRecord(ctx, "app.bsky.feed.post", "3kold"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted record: %v, want ErrNotFound", err)
	}

	// A create of an existing rkey fails the whole commit.
	_, err = c.ApplyWrites(ctx, []Write{
		{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3kother", Value: post},
		{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3knew", Value: post},
	})
	if err == nil || !UnknownOutcome(err) || Retryable(err) {
		t.Errorf("commit with an existing rkey = %v; want an UnknownOutcome, not retryable error", err)
	}
	if _, _, err := c.GetRecord(ctx, "app.bsky.feed.post", "3kother"); !errors.Is(err, ErrNotFound) {
		t.Errorf("write of a failed commit was applied: %v", err)
	}
}

func TestApplyWritesWithoutResults(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	serveApplyWrites(f, false)
	s, _, _ := connected(t, f)
	c, _ := s.Client(ctx, fakeDID)
	res, err := c.ApplyWrites(ctx, []Write{
		{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3ka", Value: []byte(`{"text":"a"}`)},
		{Action: ActionDelete, Collection: "app.bsky.feed.post", Rkey: "3kb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{URI: "at://" + fakeDID + "/app.bsky.feed.post/3ka", Rev: "rev-batch"},
		{URI: "at://" + fakeDID + "/app.bsky.feed.post/3kb", Rev: "rev-batch"},
	}
	if len(res) != 2 || res[0] != want[0] || res[1] != want[1] {
		t.Errorf("ApplyWrites = %+v, want %+v", res, want)
	}
}

func TestApplyWritesRefusesBadWrites(t *testing.T) {
	t.Parallel()
	ok := Write{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3ka", Value: []byte(`{"text":"a"}`)}
	tests := []struct {
		name   string
		writes []Write
	}{
		{"no writes", nil},
		{"unknown action", []Write{ok, {Action: "put", Collection: "app.bsky.feed.post", Rkey: "3kb", Value: []byte(`{}`)}}},
		{"bad collection", []Write{{Action: ActionCreate, Collection: "posts", Rkey: "3kb", Value: []byte(`{}`)}}},
		{"bad rkey", []Write{{Action: ActionUpdate, Collection: "app.bsky.feed.post", Rkey: "a/b", Value: []byte(`{}`)}}},
		{"no rkey", []Write{{Action: ActionCreate, Collection: "app.bsky.feed.post", Value: []byte(`{}`)}}},
		{"invalid JSON", []Write{ok, {Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3kb", Value: []byte(`{"text":`)}}},
		{"create without record", []Write{{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3kb"}}},
		{"delete with a record", []Write{{Action: ActionDelete, Collection: "app.bsky.feed.post", Rkey: "3kb", Value: []byte(`{}`)}}},
	}
	f := newFake(t)
	serveApplyWrites(f, true)
	s, _, _ := connected(t, f)
	c, _ := s.Client(ctx, fakeDID)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.ApplyWrites(ctx, tc.writes)
			if err == nil || Retryable(err) || UnknownOutcome(err) {
				t.Errorf("ApplyWrites = %+v, %v; want a permanent error", res, err)
			}
		})
	}
	t.Cleanup(func() {
		if n := f.count(string(nsidApplyWrites)); n != 0 {
			t.Errorf("%d invalid batches were sent", n)
		}
	})
}

// UploadBlob and ApplyWrites fail like the other writes.
func TestUploadAndApplyFaultClassification(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name               string
		hook               func(w http.ResponseWriter, r *http.Request)
		retryable, unknown bool
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) {
			xrpcError(w, 500, "InternalServerError", "Internal Server Error")
		}, true, true},
		{"502 without JSON", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			w.Write([]byte("<html>bad gateway</html>"))
		}, true, true},
		{"429", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			xrpcError(w, 429, "RateLimitExceeded", "Rate Limit Exceeded")
		}, true, false},
		{"400 invalid", func(w http.ResponseWriter, r *http.Request) {
			xrpcError(w, 400, "InvalidRequest", "Invalid app.bsky.feed.post record")
		}, false, false},
		{"413 too large", func(w http.ResponseWriter, r *http.Request) {
			xrpcError(w, 413, "PayloadTooLarge", "request entity too large")
		}, false, false},
		{"timeout after sending", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, true, true},
		{"connection dropped after sending", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}, true, true},
		{"2xx with an unreadable answer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"blob":`))
		}, true, true},
	}
	calls := []struct {
		nsid syntax.NSID
		call func(c Client) error
	}{
		{nsidUploadBlob, func(c Client) error {
			_, err := c.UploadBlob(ctx, "image/png", bytes.NewReader([]byte{1, 2, 3}), 3)
			return err
		}},
		{nsidApplyWrites, func(c Client) error {
			_, err := c.ApplyWrites(ctx, []Write{{Action: ActionCreate, Collection: "app.bsky.feed.post", Rkey: "3ka", Value: []byte(`{"text":"a"}`)}})
			return err
		}},
	}
	for _, call := range calls {
		for _, tc := range faults {
			t.Run(call.nsid.Name()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t)
				s, _, _ := connected(t, f)
				s.CallTimeout = 300 * time.Millisecond
				f.set(func(f *fakePDS) {
					f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
						if nsid != string(call.nsid) {
							return false
						}
						tc.hook(w, r)
						return true
					}
				})
				c, _ := s.Client(ctx, fakeDID)
				err := call.call(c)
				if err == nil {
					t.Fatal("call succeeded")
				}
				if Retryable(err) != tc.retryable || UnknownOutcome(err) != tc.unknown {
					t.Errorf("%v: Retryable=%v UnknownOutcome=%v; want %v, %v", err, Retryable(err), UnknownOutcome(err), tc.retryable, tc.unknown)
				}
				if strings.Contains(err.Error(), "eyJ") {
					t.Errorf("error carries a token: %v", err)
				}
			})
		}
	}
}

// TestRealPDSApplyWritesThread posts a three-post thread in one commit,
// each reply naming its root and parent by the CIDs computed in advance,
// then deletes the last reply and updates the profile in a second one.
func TestRealPDSApplyWritesThread(t *testing.T) {
	h := pdstest.Load(t)
	c := realClient(t, h, 1)
	clock := syntax.NewTIDClock(0)
	now := time.Now().UTC().Format(record.TimeFormat)
	const coll = "app.bsky.feed.post"

	type post struct{ rkey, uri, cid string }
	var thread []post
	var writes []Write
	for i, text := range []string{"root of a thread by alf", "reply to the root", "reply to the reply"} {
		rec := `{"$type":"app.bsky.feed.post","text":"` + text + `","createdAt":"` + now + `"`
		if i > 0 {
			root, parent := thread[0], thread[i-1]
			rec += `,"reply":{"root":{"uri":"` + root.uri + `","cid":"` + root.cid + `"},` +
				`"parent":{"uri":"` + parent.uri + `","cid":"` + parent.cid + `"}}`
		}
		rec += `}`
		cid, err := record.CID([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		rkey := clock.Next().String()
		thread = append(thread, post{rkey, "at://" + c.DID().String() + "/" + coll + "/" + rkey, cid})
		writes = append(writes, Write{Action: ActionCreate, Collection: coll, Rkey: rkey, Value: []byte(rec)})
	}
	res, err := c.ApplyWrites(ctx, writes)
	if err != nil {
		t.Fatalf("ApplyWrites: %v", err)
	}
	if len(res) != 3 {
		t.Fatalf("ApplyWrites = %+v, want 3 results", res)
	}
	for i, p := range thread {
		if res[i].URI != p.uri || res[i].CID != p.cid || res[i].Rev == "" || res[i].Rev != res[0].Rev {
			t.Errorf("result %d = %+v; want %s %s in one commit", i, res[i], p.uri, p.cid)
		}
		cid, value, err := c.GetRecord(ctx, coll, p.rkey)
		if err != nil {
			t.Fatalf("GetRecord %s: %v", p.uri, err)
		}
		if vc, _ := record.CID(value); cid != p.cid || vc != p.cid || !bytes.Contains(value, []byte(`"text"`)) {
			t.Errorf("post %d read back with CID %s (value hashes to %s), want %s", i, cid, vc, p.cid)
		}
	}
	var last struct {
		Reply struct{ Root, Parent struct{ URI, CID string } }
	}
	_, value, _ := c.GetRecord(ctx, coll, thread[2].rkey)
	if err := json.Unmarshal(value, &last); err != nil || last.Reply.Root.CID != thread[0].cid || last.Reply.Parent.CID != thread[1].cid {
		t.Errorf("last reply's refs = %+v (%v); want root %s, parent %s", last.Reply, err, thread[0].cid, thread[1].cid)
	}

	// #update needs the record to exist (the PDS answers 500 otherwise).
	if _, err := c.PutRecord(ctx, "app.bsky.actor.profile", "self", []byte(`{"displayName":"Bob"}`)); err != nil {
		t.Fatal(err)
	}
	profile := []byte(`{"$type":"app.bsky.actor.profile","displayName":"Bob via applyWrites"}`)
	res, err = c.ApplyWrites(ctx, []Write{
		{Action: ActionDelete, Collection: coll, Rkey: thread[2].rkey},
		{Action: ActionUpdate, Collection: "app.bsky.actor.profile", Rkey: "self", Value: profile},
	})
	if err != nil {
		t.Fatalf("ApplyWrites delete+update: %v", err)
	}
	if wantP, _ := record.CID(profile); len(res) != 2 || res[0].CID != "" || res[0].URI != thread[2].uri || res[1].CID != wantP {
		t.Errorf("delete+update = %+v; want no CID for the delete, %s for the profile", res, wantP)
	}
	if _, _, err := c.GetRecord(ctx, coll, thread[2].rkey); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted reply: %v, want ErrNotFound", err)
	}

	// A create of an rkey in use fails the whole commit, and says so.
	extra := clock.Next().String()
	_, err = c.ApplyWrites(ctx, []Write{
		{Action: ActionCreate, Collection: coll, Rkey: extra, Value: writes[0].Value},
		{Action: ActionCreate, Collection: coll, Rkey: thread[0].rkey, Value: writes[0].Value},
	})
	if err == nil || !UnknownOutcome(err) {
		t.Errorf("commit creating an existing rkey = %v; want an UnknownOutcome error", err)
	}
	if _, _, err := c.GetRecord(ctx, coll, extra); !errors.Is(err, ErrNotFound) {
		t.Errorf("first write of the refused commit: %v, want ErrNotFound", err)
	}

	// So does an update of a record that does not exist.
	_, err = c.ApplyWrites(ctx, []Write{
		{Action: ActionCreate, Collection: coll, Rkey: extra, Value: writes[0].Value},
		{Action: ActionUpdate, Collection: coll, Rkey: clock.Next().String(), Value: writes[0].Value},
	})
	if err == nil {
		t.Error("commit updating a missing record succeeded")
	}
	t.Logf("update of a missing record: %v", err)
	if _, _, err := c.GetRecord(ctx, coll, extra); !errors.Is(err, ErrNotFound) {
		t.Errorf("first write of the refused commit: %v, want ErrNotFound", err)
	}
}

package publisher

import (
	"encoding/json"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/record"
)

// A thread's replies point at the posts as written: each strong ref to an
// earlier write of the batch gets that write's new CID; a record without
// such refs keeps its bytes.
func TestBatchWritesRelinkReplies(t *testing.T) {
	t.Parallel()
	const did = "did:plc:thread"
	uri := func(rkey string) string { return "at://" + did + "/app.bsky.feed.post/" + rkey }
	root := []byte(`{"$type":"app.bsky.feed.post","text":"1","createdAt":"2000-01-01T00:00:00.000Z"}`)
	rootCID, _ := record.CID(root)
	reply := []byte(`{"$type":"app.bsky.feed.post","text":"2","createdAt":"2000-01-01T00:00:00.000Z",` +
		`"reply":{"root":{"uri":"` + uri("a") + `","cid":"` + rootCID + `"},"parent":{"uri":"` + uri("a") + `","cid":"` + rootCID + `"}}}`)
	other := []byte(`{"$type":"app.bsky.feed.post","text":"3","createdAt":"2000-01-01T00:00:00.000Z","n":9007199254740993}`)
	ws := []*eventsv1.BatchWrite{
		{Action: eventsv1.Action_ACTION_CREATE, Collection: "app.bsky.feed.post", Rkey: "a", Record: root},
		{Action: eventsv1.Action_ACTION_CREATE, Collection: "app.bsky.feed.post", Rkey: "b", Record: reply},
		{Action: eventsv1.Action_ACTION_CREATE, Collection: "app.bsky.feed.post", Rkey: "c", Record: other},
		{Action: eventsv1.Action_ACTION_DELETE, Collection: "app.bsky.feed.post", Rkey: "d"},
	}
	wt := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	writes, cids, err := batchWrites(did, ws, wt)
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != 4 || cids[3] != "" || writes[3].Value != nil {
		t.Fatalf("writes %v cids %v", writes, cids)
	}
	var sent struct {
		CreatedAt string                                           `json:"createdAt"`
		Reply     struct{ Root, Parent struct{ URI, CID string } } `json:"reply"`
	}
	if err := json.Unmarshal(writes[1].Value, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.CreatedAt != "2026-03-01T09:00:00.000Z" || sent.Reply.Root.CID != cids[0] || sent.Reply.Parent.CID != cids[0] || cids[0] == rootCID {
		t.Fatalf("reply as sent: %+v; root's new CID %s (was %s)", sent, cids[0], rootCID)
	}
	for i, w := range writes[:3] {
		if got, _ := record.CID(w.Value); got != cids[i] {
			t.Errorf("write %d: CID %s, reported %s", i, got, cids[i])
		}
	}
	want, _ := record.WithCreatedAt(other, wt)
	if string(writes[2].Value) != string(want) {
		t.Fatalf("a record without refs changed beyond createdAt: %s", writes[2].Value)
	}
}

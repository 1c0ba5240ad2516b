package publisher

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
)

// After a publish, alf forgets the record's blobs, but not one another of
// the account's unpublished drafts still references.
func TestDropBlobsKeepsBlobsStillInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obj, err := natstest.Provisioned(t).ObjectStore(ctx, events.ObjectBlobs)
	if err != nil {
		t.Fatal(err)
	}
	store := blob.NewStore(obj)
	const did = "did:plc:blobs"
	shared, err := store.Put(ctx, did, "image/png", bytes.NewReader([]byte{1, 2, 3}), 3)
	if err != nil {
		t.Fatal(err)
	}
	own, err := store.Put(ctx, did, "image/png", bytes.NewReader([]byte{4, 5, 6}), 3)
	if err != nil {
		t.Fatal(err)
	}
	withImages := func(cids ...string) []byte {
		b := `{"$type":"app.bsky.feed.post","text":"x","createdAt":"2026-01-01T00:00:00Z","embed":{"$type":"app.bsky.embed.images","images":[`
		for i, c := range cids {
			if i > 0 {
				b += ","
			}
			b += `{"alt":"","image":{"$type":"blob","ref":{"$link":"` + c + `"},"mimeType":"image/png","size":3}}`
		}
		return []byte(b + `]}}`)
	}
	view := projection.NewView()
	for i, rec := range [][]byte{withImages(shared.CID, own.CID), withImages(shared.CID)} {
		id := []string{"published", "pending"}[i]
		view.Apply(events.Event{Seq: uint64(i + 1), Envelope: events.New("t", time.Now(), &eventsv1.DraftCreated{
			DraftId: id, Uri: "at://" + did + "/app.bsky.feed.post/" + id, Did: did, Action: eventsv1.Action_ACTION_CREATE,
			Record: rec, Lifecycle: 1,
		})})
	}
	p := New(Config{View: view, Blobs: store})
	published, _ := view.Draft("published")
	p.dropBlobs(ctx, published)

	if _, _, err := store.Get(ctx, did, own.CID); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the published record's own blob is still kept: %v", err)
	}
	info, body, err := store.Get(ctx, did, shared.CID)
	if err != nil {
		t.Fatalf("a blob another draft still uses was dropped: %v", err)
	}
	body.Close()
	if info.Size != 3 {
		t.Fatalf("kept blob %v", info)
	}
}

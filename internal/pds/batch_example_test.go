package pds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/record"
)

// A publisher uploads a draft's image, then posts a thread that embeds it
// in one commit: each reply's strong refs use CIDs computed in advance.
func ExampleClient_ApplyWrites() {
	ctx := context.Background()
	var c pds.Client // from Sessions.Client
	var png []byte   // from the blob store

	ref, err := c.UploadBlob(ctx, "image/png", bytes.NewReader(png), int64(len(png)))
	if err != nil {
		fmt.Println(pds.Retryable(err), pds.UnknownOutcome(err))
		return
	}
	image, _ := json.Marshal(ref) // {"$type":"blob","ref":{"$link":…},…}

	clock := syntax.NewTIDClock(0)
	rootKey, replyKey := clock.Next().String(), clock.Next().String()
	root := []byte(`{"$type":"app.bsky.feed.post","text":"1/2","createdAt":"2026-03-01T09:00:00.000Z",` +
		`"embed":{"$type":"app.bsky.embed.images","images":[{"alt":"","image":` + string(image) + `}]}}`)
	rootCID, _ := record.CID(root)
	rootRef := `{"uri":"at://` + c.DID().String() + `/app.bsky.feed.post/` + rootKey + `","cid":"` + rootCID + `"}`
	reply := []byte(`{"$type":"app.bsky.feed.post","text":"2/2","createdAt":"2026-03-01T09:00:00.000Z",` +
		`"reply":{"root":` + rootRef + `,"parent":` + rootRef + `}}`)

	res, err := c.ApplyWrites(ctx, []pds.Write{
		{Action: pds.ActionCreate, Collection: "app.bsky.feed.post", Rkey: rootKey, Value: root},
		{Action: pds.ActionCreate, Collection: "app.bsky.feed.post", Rkey: replyKey, Value: reply},
	})
	switch {
	case err == nil:
		fmt.Println(res[0].CID == rootCID, res[1].URI)
	case pds.UnknownOutcome(err):
		// Read the records back with GetRecord before deciding.
	case pds.Retryable(err):
		// Try again later.
	}
}

package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/latency-fabric/alf/internal/events"
)

// A user uploads an image for a draft; at publish time the publisher finds
// the blobs the record uses and reads them back. Another account cannot.
func ExampleStore() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "alf-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Options{StoreDir: dir})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := events.Provision(ctx, js, events.Config{}); err != nil {
		panic(err)
	}
	obj, err := js.ObjectStore(ctx, events.ObjectBlobs)
	if err != nil {
		panic(err)
	}
	store := blob.NewStore(obj)

	const alice, bob = "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:plc:44ybard66vv44zksje25o7dz"
	info, err := store.Put(ctx, alice, "image/png", bytes.NewReader([]byte{9, 9, 9}), 3)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.CID, info.MimeType, info.Size)

	post := []byte(`{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00.000Z",` +
		`"embed":{"$type":"app.bsky.embed.images","images":[{"alt":"","image":{"$type":"blob",` +
		`"ref":{"$link":"` + info.CID + `"},"mimeType":"image/png","size":3}}]}}`)
	cids, _ := blob.Refs(post)
	for _, cid := range cids {
		_, rc, err := store.Get(ctx, alice, cid)
		if err != nil {
			panic(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		fmt.Println(cid, data)
	}

	_, _, err = store.Get(ctx, bob, info.CID)
	fmt.Println(errors.Is(err, blob.ErrNotFound))
	_, err = store.Put(ctx, alice, "image/jpeg", bytes.NewReader(make([]byte, 2_000_000)), -1)
	fmt.Println(errors.Is(err, blob.ErrTooLarge))
	// Output:
	// bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq image/png 3
	// bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq [9 9 9]
	// true
	// true
}

func ExampleLimit() {
	fmt.Println(blob.Limit("image/jpeg"), blob.Limit("video/mp4"))
	// Output: 1000000 50000000
}

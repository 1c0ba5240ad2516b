package events_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

func ExampleDraftSubject() {
	did := "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	uri := "at://" + did + "/app.bsky.feed.post/3l2s5xxv2ze2c"
	id := events.DraftID(uri, 1)
	fmt.Println(events.DraftSubject(did, id))
	fmt.Println(events.AccountSubject(did))
	fmt.Println(events.AccountFilters(did)[0])
	// Output:
	// alf.evt.draft.bgpe5klm2ywalirsgmmftuqms4.dog2jff73656n6wmvh2jdjqici
	// alf.evt.account.bgpe5klm2ywalirsgmmftuqms4
	// alf.evt.draft.bgpe5klm2ywalirsgmmftuqms4.*
}

func ExampleStore_Append() {
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
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := events.Provision(ctx, js, events.Config{}); err != nil {
		panic(err)
	}

	store := events.NewStore(js)
	did := "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	uri := "at://" + did + "/app.bsky.feed.post/3l2s5xxv2ze2c"
	id := events.DraftID(uri, 1)
	subject := events.DraftSubject(did, id)
	created := events.New(did, time.Now(), &eventsv1.DraftCreated{DraftId: id, Uri: uri, Did: did, Lifecycle: 1})

	version, err := store.Append(ctx, subject, 0, created) // a new aggregate
	fmt.Println(version, err)
	cancelled := events.New(did, time.Now(), &eventsv1.DraftCancelled{DraftId: id})
	_, err = store.Append(ctx, subject, 0, cancelled) // decided on a stale version
	fmt.Println(errors.Is(err, events.ErrConflict))
	version, err = store.Append(ctx, subject, version, cancelled)
	fmt.Println(version, err)

	_ = store.Replay(ctx, 1, events.AccountFilters(did), func(ev events.Event) error {
		fmt.Println(ev.Seq, ev.Type())
		return nil
	})
	// Output:
	// 1 <nil>
	// true
	// 2 <nil>
	// 1 DraftCreated
	// 2 DraftCancelled
}

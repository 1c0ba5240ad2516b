package events_test

import (
	"context"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// startJetStream runs a fresh embedded nats-server with its own storage and
// returns a JetStream context on it; the server stops when the test ends.
func startJetStream(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	return natstest.JetStream(tb)
}

// provisioned is startJetStream plus Provision.
func provisioned(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	js := startJetStream(tb)
	if err := events.Provision(testContext(tb), js, events.Config{}); err != nil {
		tb.Fatal(err)
	}
	return js
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func createdEnv(did, uri string, lifecycle uint32) *eventsv1.Envelope {
	return events.New(did, t0, &eventsv1.DraftCreated{
		DraftId:    events.DraftID(uri, lifecycle),
		Uri:        uri,
		Did:        did,
		Collection: "app.bsky.feed.post",
		Rkey:       "3l2s5xxv2ze2c",
		Action:     eventsv1.Action_ACTION_CREATE,
		Record:     []byte(`{"$type":"app.bsky.feed.post","text":"hi"}`),
		Lifecycle:  lifecycle,
	})
}

func scheduledEnv(draftID string) *eventsv1.Envelope {
	return events.New("alf:test", t0, &eventsv1.DraftScheduled{DraftId: draftID})
}

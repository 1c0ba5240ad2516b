package projection_test

import (
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	alice = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	bob   = "did:web:bob.example.com"
)

// t0 is the time of the first event in the histories below; tN is t0 plus n
// minutes.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func tN(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func postURI(did, rkey string) string { return "at://" + did + "/app.bsky.feed.post/" + rkey }

// ev is the event at seq, decided at `at`, holding msg.
func ev(seq uint64, at time.Time, msg proto.Message) events.Event {
	env := events.New("alf:test", at, msg)
	return events.Event{Seq: seq, Envelope: env, Subject: subjectOf(msg)}
}

func subjectOf(msg proto.Message) string {
	switch m := msg.(type) {
	case *eventsv1.DraftCreated:
		return events.DraftSubject(m.GetDid(), m.GetDraftId())
	case *eventsv1.AccountAuthorized:
		return events.AccountSubject(m.GetDid())
	case *eventsv1.AccountRevoked:
		return events.AccountSubject(m.GetDid())
	}
	return ""
}

var record = []byte(`{"$type":"app.bsky.feed.post","text":"hello","createdAt":"2026-06-01T12:00:00Z"}`)

// created is a DraftCreated of a post of did; scheduled is nil for an
// unscheduled draft.
func created(did, rkey string, lifecycle uint32, scheduled *time.Time) *eventsv1.DraftCreated {
	uri := postURI(did, rkey)
	e := &eventsv1.DraftCreated{
		DraftId:    events.DraftID(uri, lifecycle),
		Uri:        uri,
		Did:        did,
		Collection: "app.bsky.feed.post",
		Rkey:       rkey,
		Action:     eventsv1.Action_ACTION_CREATE,
		Record:     record,
		Cid:        "bafyreib2rxk3rh6kzwq",
		Lifecycle:  lifecycle,
	}
	if scheduled != nil {
		e.ScheduledAt = ts(*scheduled)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

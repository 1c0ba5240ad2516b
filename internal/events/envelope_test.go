package events_test

import (
	"fmt"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// catalogue is every event an Envelope can hold, by type name.
var catalogue = []struct {
	name string
	msg  proto.Message
}{
	{"DraftCreated", &eventsv1.DraftCreated{DraftId: "d"}},
	{"DraftScheduled", &eventsv1.DraftScheduled{DraftId: "d"}},
	{"DraftUnscheduled", &eventsv1.DraftUnscheduled{DraftId: "d"}},
	{"DraftCancelled", &eventsv1.DraftCancelled{DraftId: "d"}},
	{"DraftPublishRequested", &eventsv1.DraftPublishRequested{DraftId: "d"}},
	{"DraftPublishing", &eventsv1.DraftPublishing{DraftId: "d"}},
	{"DraftPublished", &eventsv1.DraftPublished{DraftId: "d"}},
	{"DraftAttemptFailed", &eventsv1.DraftAttemptFailed{DraftId: "d"}},
	{"DraftFailed", &eventsv1.DraftFailed{DraftId: "d"}},
	{"AccountAuthorized", &eventsv1.AccountAuthorized{Did: "did:plc:a"}},
	{"AccountRevoked", &eventsv1.AccountRevoked{Did: "did:plc:a"}},
}

func TestNewWrapsEveryEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 12, 0, 0, 123456789, time.UTC)
	for _, tc := range catalogue {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := events.New("did:plc:actor", at, tc.msg)
			if got := events.TypeOf(env); got != tc.name {
				t.Errorf("TypeOf = %q, want %q", got, tc.name)
			}
			if got := (events.Event{Envelope: env}).Type(); got != tc.name {
				t.Errorf("Event.Type = %q, want %q", got, tc.name)
			}
			if env.GetActor() != "did:plc:actor" {
				t.Errorf("actor = %q", env.GetActor())
			}
			if !env.GetOccurredAt().AsTime().Equal(at) {
				t.Errorf("occurred_at = %v, want %v", env.GetOccurredAt().AsTime(), at)
			}
			if !tokenShape.MatchString(env.GetId()) {
				t.Errorf("id %q is not 26 chars of lowercase base32", env.GetId())
			}
			// The payload survives an encode/decode round trip.
			data, err := proto.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			back, err := events.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, env) {
				t.Errorf("round trip changed the envelope:\n got %v\nwant %v", back, env)
			}
		})
	}
}

func TestNewPanicsOnNonEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"nil", nil},
		{"DraftDue is a work-queue message, not a log event", &eventsv1.DraftDue{DraftId: "d"}},
		{"envelope", &eventsv1.Envelope{}},
		{"timestamp", timestamppb.Now()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("New(%T) did not panic", tc.msg)
				}
				if msg := fmt.Sprint(r); msg == "" {
					t.Fatal("empty panic message")
				}
			}()
			events.New("did:plc:actor", time.Now(), tc.msg)
		})
	}
}

func TestTypeOfEmpty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  *eventsv1.Envelope
	}{
		{"nil envelope", nil},
		{"no event", &eventsv1.Envelope{Id: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := events.TypeOf(tc.env); got != "" {
				t.Fatalf("TypeOf = %q, want \"\"", got)
			}
		})
	}
}

func TestNewIDUnique(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 10000 {
		id := events.NewID()
		if !tokenShape.MatchString(id) {
			t.Fatalf("NewID() = %q, want 26 chars of lowercase base32", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	noEvent, err := proto.Marshal(&eventsv1.Envelope{Id: "abc", Actor: "alf:test"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"envelope without an event", noEvent},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if env, err := events.Decode(tc.data); err == nil {
				t.Fatalf("Decode succeeded: %v", env)
			}
		})
	}
}

package events_test

import (
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

func TestProvisionCreatesEveryAsset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        events.Config
		wantWindow time.Duration
	}{
		{"defaults", events.Config{}, 5 * time.Minute},
		{"window below the minimum", events.Config{DuplicateWindow: time.Second}, 5 * time.Minute},
		{"explicit window", events.Config{Replicas: 1, DuplicateWindow: 3 * time.Minute}, 3 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			js := startJetStream(t)
			// Every role provisions at start: twice must be as good as once.
			for i := range 2 {
				if err := events.Provision(ctx, js, tc.cfg); err != nil {
					t.Fatalf("Provision #%d: %v", i+1, err)
				}
			}

			evs := streamConfig(t, js, events.StreamEvents)
			if evs.Retention != jetstream.LimitsPolicy || evs.Storage != jetstream.FileStorage {
				t.Errorf("%s: retention %v storage %v", events.StreamEvents, evs.Retention, evs.Storage)
			}
			if evs.Duplicates != tc.wantWindow {
				t.Errorf("%s duplicate window = %v, want %v", events.StreamEvents, evs.Duplicates, tc.wantWindow)
			}
			if evs.Replicas != 1 {
				t.Errorf("%s replicas = %d, want 1", events.StreamEvents, evs.Replicas)
			}
			due := streamConfig(t, js, events.StreamDue)
			if due.Retention != jetstream.WorkQueuePolicy {
				t.Errorf("%s retention = %v, want work queue", events.StreamDue, due.Retention)
			}
			if due.Duplicates != tc.wantWindow {
				t.Errorf("%s duplicate window = %v, want %v", events.StreamDue, due.Duplicates, tc.wantWindow)
			}

			for _, b := range []string{events.BucketSessions, events.BucketTriggers, events.BucketSnapshots} {
				kv, err := js.KeyValue(ctx, b)
				if err != nil {
					t.Errorf("bucket %s: %v", b, err)
					continue
				}
				st, err := kv.Status(ctx)
				if err != nil {
					t.Errorf("bucket %s status: %v", b, err)
					continue
				}
				if st.History() != 1 {
					t.Errorf("bucket %s history = %d, want 1", b, st.History())
				}
			}
			if _, err := js.ObjectStore(ctx, events.ObjectBlobs); err != nil {
				t.Errorf("object store %s: %v", events.ObjectBlobs, err)
			}
		})
	}
}

// Publishing to the subjects alf uses lands in the right stream.
func TestProvisionedSubjectsReachTheirStreams(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := provisioned(t)
	did := "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	tests := []struct {
		subject string
		stream  string
	}{
		{events.DraftSubject(did, events.DraftID("at://x/y/z", 1)), events.StreamEvents},
		{events.AccountSubject(did), events.StreamEvents},
		{events.DueSubject(did), events.StreamDue},
	}
	for _, tc := range tests {
		ack, err := js.Publish(ctx, tc.subject, []byte("x"))
		if err != nil {
			t.Fatalf("publish %s: %v", tc.subject, err)
		}
		if ack.Stream != tc.stream {
			t.Errorf("%s stored in %s, want %s", tc.subject, ack.Stream, tc.stream)
		}
	}
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	ctx := testContext(t)
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info.Config
}

package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sizes the JetStream assets.
type Config struct {
	// Replicas per stream, bucket and object store: 1 locally, 3 in a cluster.
	Replicas int
	// DuplicateWindow is how long JetStream remembers message ids (at least 2
	// minutes): appends retried within it, and DraftDue messages of timers
	// running side by side, are stored once.
	DuplicateWindow time.Duration
}

func (c Config) withDefaults() Config {
	if c.Replicas < 1 {
		c.Replicas = 1
	}
	if c.DuplicateWindow < 2*time.Minute {
		c.DuplicateWindow = 5 * time.Minute
	}
	return c
}

// Provision creates or updates every stream, bucket and object store alf
// uses. It is idempotent: every role calls it at start.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg = cfg.withDefaults()
	streams := []jetstream.StreamConfig{{
		Name:        StreamEvents,
		Description: "alf's event log: every state change, the source of truth",
		Subjects:    []string{eventsPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
		AllowDirect: true,
	}, {
		Name:        StreamDue,
		Description: "drafts due for publishing (work queue)",
		Subjects:    []string{duePrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
	}}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: BucketSessions, Description: "sealed PDS sessions by account", History: 1},
		{Bucket: BucketTriggers, Description: "trigger key hash to draft", History: 1},
		{Bucket: BucketSnapshots, Description: "projection snapshots with the sequence they cover", History: 1},
		{Bucket: BucketAPIKeys, Description: "hashes of alf API keys and their accounts", History: 1},
		{Bucket: BucketOAuth, Description: "sealed OAuth client key", History: 1},
		{Bucket: BucketOAuthRequests, Description: "sealed pending OAuth authorization requests", History: 1, TTL: OAuthRequestTTL},
	}
	for _, kc := range buckets {
		kc.Storage = jetstream.FileStorage
		kc.Replicas = cfg.Replicas
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("provision bucket %s: %w", kc.Bucket, err)
		}
	}
	_, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      ObjectBlobs,
		Description: "blob bytes kept until their record is published",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("provision object store %s: %w", ObjectBlobs, err)
	}
	return nil
}

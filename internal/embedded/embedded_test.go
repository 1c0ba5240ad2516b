package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartPublishesToJetStream(t *testing.T) {
	t.Parallel()
	srv, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if srv.ClientURL() == "" {
		t.Fatal("no client URL with Port -1")
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, "t.x", []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Sequence != 1 {
		t.Fatalf("sequence = %d, want 1", ack.Sequence)
	}
}

func TestStartRequiresStoreDir(t *testing.T) {
	t.Parallel()
	if _, err := embedded.Start(embedded.Options{}); err == nil {
		t.Fatal("Start without StoreDir succeeded")
	}
}

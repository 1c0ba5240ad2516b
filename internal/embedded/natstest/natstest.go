// Package natstest starts embedded nats-servers for tests: each test gets
// its own server and storage, stopped when the test ends.
//
//	js := natstest.Provisioned(t) // a JetStream with alf's streams, buckets and object store
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server starts a server with fresh storage.
func Server(tb testing.TB) *embedded.Server {
	tb.Helper()
	return ServerAt(tb, tb.TempDir())
}

// ServerAt starts a server on the given storage, e.g. to restart one.
// Shutting it down early is fine.
func ServerAt(tb testing.TB, dir string) *embedded.Server {
	tb.Helper()
	srv, err := embedded.Start(embedded.Options{StoreDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	return srv
}

// Conn opens a connection to srv, closed when the test ends.
func Conn(tb testing.TB, srv *embedded.Server) *nats.Conn {
	tb.Helper()
	nc, err := srv.Connect()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// JetStream is a JetStream context on a fresh server.
func JetStream(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(Conn(tb, Server(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// Provisioned is JetStream with alf's assets provisioned.
func Provisioned(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	js := JetStream(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := events.Provision(ctx, js, events.Config{}); err != nil {
		tb.Fatal(err)
	}
	return js
}

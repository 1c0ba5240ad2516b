// Package embedded runs an in-process nats-server with JetStream, for the
// all-in-one binary (cmd/alf) and for integration tests.
//
// Start a server, connect to it, and shut it down when done:
//
//	srv, err := embedded.Start(embedded.Options{StoreDir: "./data/nats"})
//	if err != nil { ... }
//	defer srv.Shutdown()
//	nc, err := srv.Connect()
package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configures an embedded server.
type Options struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// Port is the client port to listen on at Host; 0 means no listener
	// (connections are made in-process only), -1 a random free port.
	Port int
	// Host is the listen address when Port is not 0 (default 127.0.0.1).
	Host string
	// ServerName names the server in logs and cluster metadata.
	ServerName string
}

// Server is a running embedded nats-server.
type Server struct {
	ns *server.Server
}

// Start starts a JetStream-enabled server and waits until it accepts
// connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	so := &server.Options{
		ServerName: opts.ServerName,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		Host:       opts.Host,
		Port:       opts.Port,
		DontListen: opts.Port == 0,
		// Large enough for a record batch or a blob chunk, bounded all the same.
		MaxPayload: 8 << 20,
	}
	if so.Host == "" {
		so.Host = "127.0.0.1"
	}
	if so.ServerName == "" {
		so.ServerName = "alf-embedded"
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return &Server{ns: ns}, nil
}

// Connect opens a client connection to the server, in-process (no socket).
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(s.ns), nats.Name("alf")}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	return nc, nil
}

// ClientURL is the URL other processes use to connect, or "" when the
// server has no listener.
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

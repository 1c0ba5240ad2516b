package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/config"
	"github.com/latency-fabric/alf/internal/content"
	"github.com/latency-fabric/alf/internal/seal"
	"github.com/nats-io/nats.go"
)

// Logger is alf's JSON logger at the configured level.
func Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// FromConfig fills the options every role shares from the configuration.
func FromConfig(cfg config.Config, key seal.Key, nc *nats.Conn, roles Roles, log *slog.Logger) Options {
	o := withDefaults(Options{Conn: nc, Roles: roles, Key: key, Log: log})
	o.ServiceDID = cfg.ServiceDID
	o.ServiceURL = cfg.ServiceURL
	o.MaxDrafts = cfg.MaxDraftsPerUser
	o.DisableRecurring = cfg.DisableRecurring
	o.RateLimits = RateLimits{PerIP: cfg.RateLimitPerIP, PerAccount: cfg.RateLimitPerAccount}
	o.Content = content.New(content.Config{AllowPrivate: cfg.AllowPrivateContentURLs})
	o.Collections = cfg.CollectionAllowed
	o.CollectionNames = cfg.AllowedCollections
	o.RedirectOrigins = cfg.AllowedRedirectOrigins
	o.HandleResolverURL = cfg.HandleResolverURL
	o.WebhookURL = cfg.PostPublishWebhookURL
	o.WebhookKey = []byte(cfg.PostPublishWebhookSecret)
	o.Directory = auth.NewDirectory(cfg.PLCRoot, o.HTTPClient)
	o.Addr = ":" + strconv.Itoa(cfg.Port)
	return o
}

// Run starts a node and blocks until ctx ends, then stops it.
func Run(ctx context.Context, opts Options) error {
	n, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	if a := n.Addr(); a != "" {
		opts.Log.Info("alf listening", "addr", a, "service_did", opts.ServiceDID)
	}
	<-ctx.Done()
	opts.Log.Info("stopping")
	n.Stop()
	return nil
}

// Main runs one role against NATS_URL, for cmd/gateway, cmd/timer and
// cmd/publisher. It returns the process exit code.
func Main(name string, roles Roles) int {
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		err = cfg.RequireEncryptionKey()
	}
	if err == nil && cfg.NATSURL == "" {
		err = errors.New("NATS_URL is required (use cmd/alf for an embedded NATS server)")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "alf %s: configuration: %v\n", name, err)
		return 2
	}
	log := Logger(cfg.LogLevel).With("service", "alf-"+name)
	key, err := cfg.Key("")
	if err != nil {
		fmt.Fprintf(os.Stderr, "alf %s: configuration: %v\n", name, err)
		return 2
	}
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("alf-"+name), nats.MaxReconnects(-1))
	if err != nil {
		log.Error("connect to NATS", "err", err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, FromConfig(cfg, key, nc, roles, log)); err != nil {
		log.Error("alf stopped", "err", err)
		return 1
	}
	return 0
}

// Command alf runs the whole scheduler in one process: an embedded NATS
// server with JetStream under ALF_DATA_DIR (./data), and the gateway, timer
// and publisher roles, serving on PORT (1986). With NATS_URL set it uses that
// NATS instead of an embedded one.
//
//	go run ./cmd/alf                    # run alf
//	go run ./cmd/alf events -from 1     # print the event log as JSON lines
//
// When ENCRYPTION_KEY is unset, alf creates a key under the data directory on
// first run and says where; keep that file secret and backed up.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/latency-fabric/alf/internal/config"
	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/seal"
	"github.com/nats-io/nats.go"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// tuneGC trades memory for CPU unless GOGC says otherwise: alf's live heap
// is small (the projection), and collecting less often cut the worst
// ingest latencies by a third in docs/benchmarks.md.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "alf: configuration: %v\n", err)
		return 2
	}
	log := node.Logger(cfg.LogLevel).With("service", "alf")

	nc, shutdown, err := connect(cfg, log)
	if err != nil {
		log.Error("start NATS", "err", err)
		return 1
	}
	defer shutdown()

	if len(args) > 0 && args[0] == "events" {
		return eventsCmd(ctx, nc, args[1:], stderr)
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "alf: unknown command %q (commands: events)\n", args[0])
		return 2
	}
	key, err := loadKey(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "alf: configuration: %v\n", err)
		return 2
	}
	if err := node.Run(ctx, node.FromConfig(cfg, key, nc, node.All, log)); err != nil {
		log.Error("alf stopped", "err", err)
		return 1
	}
	return 0
}

// connect opens NATS_URL, or starts an embedded server under the data dir.
func connect(cfg config.Config, log *slog.Logger) (*nats.Conn, func(), error) {
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("alf"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, nil, fmt.Errorf("connect to NATS_URL: %w", err)
		}
		return nc, nc.Close, nil
	}
	dir := filepath.Join(cfg.DataDir, "nats")
	srv, err := embedded.Start(embedded.Options{StoreDir: dir})
	if err != nil {
		return nil, nil, err
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	log.Info("embedded NATS started", "store_dir", dir)
	return nc, func() { nc.Close(); srv.Shutdown() }, nil
}

// keyFile is where cmd/alf keeps the key it made when ENCRYPTION_KEY is unset.
const keyFile = "encryption.key"

// loadKey returns ENCRYPTION_KEY, or the key kept under the data dir,
// creating it on first run.
func loadKey(cfg config.Config, log *slog.Logger) (seal.Key, error) {
	if cfg.EncryptionKey != "" {
		return cfg.Key("")
	}
	path := filepath.Join(cfg.DataDir, keyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := cfg.Key(strings.TrimSpace(string(b)))
		if err != nil {
			return seal.Key{}, fmt.Errorf("ENCRYPTION_KEY from %s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return seal.Key{}, fmt.Errorf("ENCRYPTION_KEY from %s: %w", path, err)
	}
	key, hexKey := seal.NewKey()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return seal.Key{}, fmt.Errorf("ALF_DATA_DIR: %w", err)
	}
	if err := os.WriteFile(path, []byte(hexKey+"\n"), 0o600); err != nil {
		return seal.Key{}, fmt.Errorf("write ENCRYPTION_KEY to %s: %w", path, err)
	}
	log.Warn("ENCRYPTION_KEY is unset: created a new key; keep it secret and backed up, or set ENCRYPTION_KEY", "path", path)
	return key, nil
}

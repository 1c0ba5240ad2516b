package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// startAlf runs the command until the test ends and waits for /health.
func startAlf(t *testing.T, vars map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, nil, env(vars), &stderr) }()
	url := "http://127.0.0.1:" + vars["PORT"] + "/health"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("alf exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("alf did not answer /health")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("alf exited with %d: %s", code, stderr.String())
		}
	})
}

// With no configuration but a data dir and a port, alf starts with an
// embedded NATS, creates its key once and keeps using it.
func TestRunsWithNoSetupAndKeepsItsKey(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	vars := map[string]string{"ALF_DATA_DIR": data, "PORT": strconv.Itoa(freePort(t)), "LOG_LEVEL": "error"}
	run1 := t.Run("first start", func(t *testing.T) { startAlf(t, vars) })
	keyPath := filepath.Join(data, keyFile)
	first, err := os.ReadFile(keyPath)
	if !run1 || err != nil {
		t.Fatalf("key file: %v", err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if len(strings.TrimSpace(string(first))) != 64 {
		t.Fatalf("key file holds %d characters, want 64 hex", len(strings.TrimSpace(string(first))))
	}
	t.Run("second start", func(t *testing.T) { startAlf(t, vars) })
	second, _ := os.ReadFile(keyPath)
	if !bytes.Equal(first, second) {
		t.Fatal("the key changed between starts")
	}
}

func TestInvalidConfigurationStopsStartUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		vars    map[string]string
		mention string
	}{
		{map[string]string{"PORT": "abc"}, "PORT"},
		{map[string]string{"ENCRYPTION_KEY": "0123"}, "ENCRYPTION_KEY"},
		{map[string]string{"SERVICE_URL": "ftp://x"}, "SERVICE_URL"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.mention, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			tt.vars["ALF_DATA_DIR"] = t.TempDir()
			code := run(context.Background(), nil, env(tt.vars), &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.mention) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, stderr.String(), tt.mention)
			}
			if tt.mention == "ENCRYPTION_KEY" && strings.Contains(stderr.String(), "0123") {
				t.Fatal("the key's value reached the message")
			}
		})
	}
}

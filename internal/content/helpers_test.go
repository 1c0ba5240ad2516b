package content_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/content"
)

// t0 has nanoseconds and a zone, so the parameter's UTC millisecond format
// shows.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 123_456_789, time.FixedZone("CET", 3600))

const t0Param = "2026-03-01T09:00:00.123Z"

// publicAddr is a public address the redirect tests "fetch from": their
// transport dials the test server instead, after the guard passed it.
const publicAddr = "93.184.215.14"

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// server is a loopback test server that counts its requests.
type server struct {
	*httptest.Server
	calls atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// answer is a handler that answers status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// hang is a handler that answers nothing until the client hangs up (or
// 10 s), so a timeout test never hangs.
func hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// loopbackFetcher allows private addresses, for the loopback test servers.
func loopbackFetcher(cfg content.Config) *content.Fetcher {
	cfg.AllowPrivate = true
	return content.New(cfg)
}

// redirector is a Transport for AllowPrivate false whose DialContext
// connects every address that passed the guard to srv, and records them.
type redirector struct {
	mu     sync.Mutex
	dialed []string
}

func (rd *redirector) transport(srv *server) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			rd.mu.Lock()
			rd.dialed = append(rd.dialed, addr)
			rd.mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
}

func (rd *redirector) addrs() []string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return append([]string(nil), rd.dialed...)
}

// asError is err as a *content.Error, failing the test if it is not one.
func asError(t *testing.T, err error) *content.Error {
	t.Helper()
	var cerr *content.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v (%T) is not a *content.Error", err, err)
	}
	return cerr
}

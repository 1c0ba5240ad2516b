package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
)

const (
	createProc = "/alf.v1.DraftService/CreateDraft"
	watchProc  = "/alf.v1.DraftService/WatchDrafts"
)

// server serves a unary and a server-streaming procedure behind the
// interceptor; each records the DID it saw and counts its calls.
type server struct {
	url   string
	calls atomic.Int64
	seen  atomic.Value // syntax.DID
}

func newServer(t *testing.T, v *auth.Verifier) *server {
	t.Helper()
	s := &server{}
	record := func(ctx context.Context) {
		s.calls.Add(1)
		did, _ := auth.DIDFrom(ctx)
		s.seen.Store(did)
	}
	mux := http.NewServeMux()
	mux.Handle(createProc, connect.NewUnaryHandler(createProc,
		func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			record(ctx)
			return connect.NewResponse(&emptypb.Empty{}), nil
		}, connect.WithInterceptors(v.Interceptor())))
	mux.Handle(watchProc, connect.NewServerStreamHandler(watchProc,
		func(ctx context.Context, _ *connect.Request[emptypb.Empty], st *connect.ServerStream[emptypb.Empty]) error {
			record(ctx)
			return st.Send(&emptypb.Empty{})
		}, connect.WithInterceptors(v.Interceptor())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func callUnary(s *server, header string) error {
	c := connect.NewClient[emptypb.Empty, emptypb.Empty](http.DefaultClient, s.url+createProc)
	req := connect.NewRequest(&emptypb.Empty{})
	if header != "" {
		req.Header().Set("Authorization", header)
	}
	_, err := c.CallUnary(context.Background(), req)
	return err
}

func callStream(s *server, header string) error {
	c := connect.NewClient[emptypb.Empty, emptypb.Empty](http.DefaultClient, s.url+watchProc)
	req := connect.NewRequest(&emptypb.Empty{})
	if header != "" {
		req.Header().Set("Authorization", header)
	}
	st, err := c.CallServerStream(context.Background(), req)
	if err != nil {
		return err
	}
	defer st.Close()
	for st.Receive() {
	}
	return st.Err()
}

func TestInterceptor(t *testing.T) {
	t.Parallel()
	alice := authtest.NewIdentity(t)
	stranger := authtest.NewIdentity(t)
	v := auth.NewVerifier(aud, authtest.Directory(alice))
	createLXM := auth.ProcedureLXM(createProc)
	watchLXM := auth.ProcedureLXM(watchProc)

	cases := []struct {
		name   string
		call   func(*server, string) error
		header string
		ok     bool
	}{
		{"unary valid", callUnary, alice.Header(t, aud, createLXM), true},
		{"unary missing header", callUnary, "", false},
		{"unary lxm of another procedure", callUnary, alice.Header(t, aud, watchLXM), false},
		{"unary wrong aud", callUnary, alice.Header(t, "did:web:elsewhere.example", createLXM), false},
		{"unary unknown DID", callUnary, stranger.Header(t, aud, createLXM), false},
		{"stream valid", callStream, alice.Header(t, aud, watchLXM), true},
		{"stream missing header", callStream, "", false},
		{"stream lxm of another procedure", callStream, alice.Header(t, aud, createLXM), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, v)
			err := tc.call(s, tc.header)
			if tc.ok {
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				if got := s.seen.Load(); got != alice.DID {
					t.Fatalf("handler saw DID %v, want %s", got, alice.DID)
				}
				return
			}
			if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
				t.Fatalf("call error %v has code %v, want unauthenticated", err, code)
			}
			if n := s.calls.Load(); n != 0 {
				t.Fatalf("handler ran %d times for a refused call", n)
			}
		})
	}
}

func TestProcedureLXM(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"/alf.v1.DraftService/CreateDraft":    "alf.v1.DraftService.CreateDraft",
		"/alf.v1.AuditService/ListEvents":     "alf.v1.AuditService.ListEvents",
		"/grpc.health.v1.Health/Check":        "grpc.health.v1.Health.Check",
		"com.atproto.repo.createRecord":       "com.atproto.repo.createRecord",
		"/alf.v1.ScheduleService/GetSchedule": "alf.v1.ScheduleService.GetSchedule",
	}
	for in, want := range cases {
		got := auth.ProcedureLXM(in)
		if got != want {
			t.Errorf("ProcedureLXM(%q) = %q, want %q", in, got, want)
		}
		if _, err := syntax.ParseNSID(got); err != nil {
			t.Errorf("ProcedureLXM(%q) = %q is not an NSID: %v", in, got, err)
		}
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	alice := authtest.NewIdentity(t)
	v := auth.NewVerifier(aud, authtest.Directory(alice))
	const nsid = "town.roundabout.scheduledPosts.listPosts"
	route := func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/xrpc/") }

	cases := []struct {
		name   string
		header string
		status int
	}{
		{"valid", alice.Header(t, aud, nsid), http.StatusOK},
		{"missing header", "", http.StatusUnauthorized},
		{"wrong lxm", alice.Header(t, aud, "town.roundabout.scheduledPosts.deletePost"), http.StatusUnauthorized},
		{"basic scheme", "Basic YWxpY2U6cGFzcw==", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen syntax.DID
			reached := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				seen, _ = auth.DIDFrom(r.Context())
			})
			req := httptest.NewRequest(http.MethodGet, "/xrpc/"+nsid, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			v.Middleware(route, next).ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == http.StatusOK {
				if seen != alice.DID {
					t.Fatalf("handler saw %q, want %s", seen, alice.DID)
				}
				return
			}
			if reached {
				t.Fatal("handler reached for a refused request")
			}
			var body struct{ Error, Message string }
			if err := json.NewDecoder(rec.Body).Decode(&body); err != nil {
				t.Fatalf("body: %v", err)
			}
			if body.Error != "AuthenticationRequired" || body.Message == "" {
				t.Fatalf("body %+v, want error AuthenticationRequired with a message", body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func TestDIDContext(t *testing.T) {
	t.Parallel()
	if _, ok := auth.DIDFrom(context.Background()); ok {
		t.Fatal("empty context has a DID")
	}
	did := syntax.DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	got, ok := auth.DIDFrom(auth.WithDID(context.Background(), did))
	if !ok || got != did {
		t.Fatalf("DIDFrom = %q, %v", got, ok)
	}
}

package pds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/seal"
)

// js is one embedded JetStream shared by the tests; each test makes its own
// bucket.
var (
	js      jetstream.JetStream
	buckets atomic.Int64
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "alf-pds-test-")
	if err != nil {
		panic(err)
	}
	srv, err := embedded.Start(embedded.Options{StoreDir: dir})
	if err != nil {
		panic(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		panic(err)
	}
	js, err = jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	nc.Close()
	srv.Shutdown()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	name := fmt.Sprintf("sessions_%d", buckets.Add(1))
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: name, History: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.DeleteKeyValue(context.Background(), name) })
	return kv
}

const (
	fakeDID     = "did:plc:fakefakefakefakefakefake"
	fakeHandle  = "alice.test"
	fakeAppPass = "abcd-efgh-ijkl-mnop"
	fakeMain    = "main-password-secret"
)

var jwtSecret = []byte("fake-pds-secret")

// fakePDS is a PDS for fault injection: sessions with rotating refresh
// tokens, four repo endpoints, and a hook that may answer first.
type fakePDS struct {
	srv *httptest.Server
	did string // the DID sessions are issued for

	mu          sync.Mutex
	accessTTL   time.Duration // negative: issue tokens that are already expired
	appPassword string
	refresh     map[string]bool
	records     map[string]json.RawMessage
	calls       map[string]int
	bodies      []string // bodies of repo writes that reached a handler
	auths       []string // access tokens seen by repo endpoints
	hook        func(w http.ResponseWriter, r *http.Request, nsid string) bool
	n           int
}

func newFake(t *testing.T) *fakePDS {
	t.Helper()
	f := &fakePDS{
		did:         fakeDID,
		accessTTL:   time.Hour,
		appPassword: fakeAppPass,
		refresh:     map[string]bool{},
		records:     map[string]json.RawMessage{},
		calls:       map[string]int{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePDS) directory() identity.Directory {
	d := identity.NewMockDirectory()
	d.Insert(identity.Identity{
		DID:      syntax.DID(fakeDID),
		Handle:   syntax.Handle(fakeHandle),
		Services: map[string]identity.ServiceEndpoint{"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: f.srv.URL}},
	})
	return d
}

func (f *fakePDS) set(fn func(f *fakePDS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakePDS) count(nsid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[nsid]
}

func (f *fakePDS) seen() (bodies, auths []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...), append([]string(nil), f.auths...)
}

// issue makes a session for scope; the caller holds f.mu.
func (f *fakePDS) issue(scope string) map[string]string {
	f.n++
	access := f.token(scope, f.accessTTL)
	refresh := f.token("com.atproto.refresh", 90*24*time.Hour)
	f.refresh[refresh] = true
	return map[string]string{"accessJwt": access, "refreshJwt": refresh, "did": f.did, "handle": fakeHandle}
}

func (f *fakePDS) token(scope string, ttl time.Duration) string {
	c := jwt.MapClaims{"scope": scope, "sub": f.did, "exp": time.Now().Add(ttl).Unix(), "jti": fmt.Sprint(f.n)}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(jwtSecret)
	if err != nil {
		panic(err)
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func xrpcError(w http.ResponseWriter, status int, name, msg string) {
	writeJSON(w, status, map[string]string{"error": name, "message": msg})
}

func (f *fakePDS) serve(w http.ResponseWriter, r *http.Request) {
	nsid := strings.TrimPrefix(r.URL.Path, "/xrpc/")
	f.mu.Lock()
	f.calls[nsid]++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, nsid) {
		return
	}
	switch nsid {
	case "com.atproto.server.createSession":
		f.createSession(w, r)
	case "com.atproto.server.refreshSession":
		f.refreshSession(w, r)
	default:
		f.repo(w, r, nsid)
	}
}

func (f *fakePDS) createSession(w http.ResponseWriter, r *http.Request) {
	var in struct{ Identifier, Password string }
	json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Identifier != fakeHandle && in.Identifier != f.did {
		xrpcError(w, 401, "AuthenticationRequired", "Invalid identifier or password")
		return
	}
	switch in.Password {
	case f.appPassword:
		writeJSON(w, 200, f.issue("com.atproto.appPass"))
	case fakeMain:
		writeJSON(w, 200, f.issue("com.atproto.access"))
	default:
		xrpcError(w, 401, "AuthenticationRequired", "Invalid identifier or password")
	}
}

func (f *fakePDS) refreshSession(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.refresh[tok] {
		xrpcError(w, 400, "ExpiredToken", "Token has been revoked")
		return
	}
	delete(f.refresh, tok)
	writeJSON(w, 200, f.issue("com.atproto.appPass"))
}

// checkAccess answers ExpiredToken/InvalidToken like the PDS does.
func (f *fakePDS) checkAccess(w http.ResponseWriter, r *http.Request) bool {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.auths = append(f.auths, tok)
	_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return jwtSecret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	switch {
	case err == nil:
		return true
	case strings.Contains(err.Error(), "expired"):
		xrpcError(w, 400, "ExpiredToken", "Token has expired")
	default:
		xrpcError(w, 400, "InvalidToken", "Token could not be verified")
	}
	return false
}

func (f *fakePDS) repo(w http.ResponseWriter, r *http.Request, nsid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.checkAccess(w, r) {
		return
	}
	if nsid == "com.atproto.repo.getRecord" {
		q := r.URL.Query()
		rec, ok := f.records[q.Get("collection")+"/"+q.Get("rkey")]
		if !ok || q.Get("repo") != f.did {
			xrpcError(w, 400, "RecordNotFound", "Could not locate record")
			return
		}
		c, _ := record.CID(rec)
		writeJSON(w, 200, map[string]any{"uri": "at://x", "cid": c, "value": rec})
		return
	}
	var in struct {
		Repo, Collection, Rkey string
		Record                 json.RawMessage
	}
	raw := new(strings.Builder)
	if err := json.NewDecoder(teeReader(r, raw)).Decode(&in); err != nil {
		xrpcError(w, 400, "InvalidRequest", err.Error())
		return
	}
	f.bodies = append(f.bodies, raw.String())
	key := in.Collection + "/" + in.Rkey
	uri := "at://" + in.Repo + "/" + key
	switch nsid {
	case "com.atproto.repo.deleteRecord":
		delete(f.records, key)
		writeJSON(w, 200, map[string]any{"commit": map[string]string{"cid": "bafycommit", "rev": "rev-d"}})
		return
	case "com.atproto.repo.createRecord":
		if _, ok := f.records[key]; ok {
			xrpcError(w, 500, "InternalServerError", "Internal Server Error")
			return
		}
	}
	f.records[key] = in.Record
	c, _ := record.CID(in.Record)
	writeJSON(w, 200, map[string]any{"uri": uri, "cid": c, "commit": map[string]string{"cid": "bafycommit", "rev": "rev-w"}})
}

type teeBody struct {
	r   *http.Request
	out *strings.Builder
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Body.Read(p)
	t.out.Write(p[:n])
	return n, err
}

func teeReader(r *http.Request, out *strings.Builder) teeBody { return teeBody{r, out} }

// connected returns sessions on a fresh bucket with alice connected to f.
func connected(t *testing.T, f *fakePDS) (*Sessions, seal.Key, jetstream.KeyValue) {
	t.Helper()
	key, _ := seal.NewKey()
	kv := newKV(t)
	s := NewSessions(kv, key, f.directory(), nil)
	if _, err := s.ConnectAppPassword(context.Background(), fakeDID, fakeHandle, fakeAppPass); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return s, key, kv
}

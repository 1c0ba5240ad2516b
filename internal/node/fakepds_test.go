package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/golang-jwt/jwt/v5"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/record"
)

// fakePDS is one account's PDS over HTTP, for fault injection through alf's
// real PDS client (pds.Sessions): app-password sessions (createSession,
// refreshSession) with JWT-shaped tokens, and the repo methods the
// publisher calls (createRecord, putRecord, deleteRecord, getRecord,
// uploadBlob).
//
// Record writes and getRecord follow per-test scripts of faults, one fault
// per request in arrival order; once a script is used up, requests are
// served normally. Every record write is recorded with the time it arrived
// by the test's clock and whether the fake applied it.
type fakePDS struct {
	srv         *httptest.Server
	did         syntax.DID
	handle      string
	appPassword string
	clock       clock.Clock

	mu          sync.Mutex
	writeFaults []fault
	readFaults  []fault
	access      map[string]bool // access tokens issued
	refresh     map[string]bool // refresh tokens not yet used
	records     map[string]json.RawMessage
	blobs       map[string][]byte
	writes      []writeRequest
	reads       int
	issued      int
}

// fault is how the fake answers one request instead of serving it.
type fault struct {
	status  int // HTTP status of the error answer
	name    string
	message string
	// applied: perform the write, then answer with the error (the write
	// happened; its answer is lost).
	applied bool
	// resetIn: answer 429 with ratelimit-reset this long after the clock's
	// now.
	resetIn time.Duration
	// hang: answer nothing until the request's context ends.
	hang bool
}

// failWith answers an XRPC error without performing the request.
func failWith(status int, name, message string) fault {
	return fault{status: status, name: name, message: message}
}

// failAfterWrite performs the write, then answers an XRPC error.
func failAfterWrite(status int, name, message string) fault {
	return fault{status: status, name: name, message: message, applied: true}
}

// rateLimited answers 429 with the PDS's rate-limit headers, the limit
// resetting resetIn from now.
func rateLimited(resetIn time.Duration) fault { return fault{resetIn: resetIn} }

// hang never answers: the request ends when its client gives up.
func hang() fault { return fault{hang: true} }

// writeRequest is a record write that reached the fake.
type writeRequest struct {
	NSID    string
	Key     string    // collection/rkey
	At      time.Time // by the test's clock
	Applied bool
}

const fakeJWTSecret = "alf node fake PDS"

// newFakePDS serves id's repository; clk stamps the writes.
func newFakePDS(t *testing.T, id *authtest.Identity, clk clock.Clock) *fakePDS {
	t.Helper()
	f := &fakePDS{
		did:         id.DID,
		handle:      "fault.test",
		appPassword: "abcd-efgh-ijkl-mnop",
		clock:       clk,
		access:      map[string]bool{},
		refresh:     map[string]bool{},
		records:     map[string]json.RawMessage{},
		blobs:       map[string][]byte{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL, the PDS endpoint of the account's DID
// document.
func (f *fakePDS) URL() string { return f.srv.URL }

// directory resolves id (the account) to a DID document whose PDS is the
// fake, with id's signing key for the service-auth tokens alf checks.
func (f *fakePDS) directory(id *authtest.Identity) identity.Directory {
	ident := id.Identity()
	ident.Handle = syntax.Handle(f.handle)
	ident.Services = map[string]identity.ServiceEndpoint{
		"atproto_pds": {Type: "AtprotoPersonalDataServer", URL: f.srv.URL},
	}
	dir := identity.NewMockDirectory()
	dir.Insert(ident)
	return dir
}

// failWrites scripts the answers to the next record writes.
func (f *fakePDS) failWrites(faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeFaults = append(f.writeFaults, faults...)
}

// failReads scripts the answers to the next getRecord calls.
func (f *fakePDS) failReads(faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readFaults = append(f.readFaults, faults...)
}

// writeLog is every record write that reached the fake, in order.
func (f *fakePDS) writeLog() []writeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]writeRequest(nil), f.writes...)
}

// writeCount is how many record writes reached the fake.
func (f *fakePDS) writeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes)
}

// readCount is how many getRecord calls reached the fake.
func (f *fakePDS) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// stored returns the records the repository holds, by collection/rkey.
func (f *fakePDS) stored() map[string]json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]json.RawMessage, len(f.records))
	for k, v := range f.records {
		out[k] = v
	}
	return out
}

// cidOf is the CID of the record stored at key (collection/rkey), as
// getRecord reports it.
func (f *fakePDS) cidOf(t *testing.T, key string) string {
	t.Helper()
	f.mu.Lock()
	rec, ok := f.records[key]
	f.mu.Unlock()
	if !ok {
		t.Fatalf("no record %s on the fake PDS", key)
	}
	cid, err := record.CID(rec)
	if err != nil {
		t.Fatalf("CID of %s: %v", key, err)
	}
	return cid
}

// hasBlob reports whether cid was uploaded.
func (f *fakePDS) hasBlob(cid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.blobs[cid]
	return ok
}

func (f *fakePDS) serve(w http.ResponseWriter, r *http.Request) {
	nsid := strings.TrimPrefix(r.URL.Path, "/xrpc/")
	switch nsid {
	case "com.atproto.server.createSession":
		f.createSession(w, r)
	case "com.atproto.server.refreshSession":
		f.refreshSession(w, r)
	case "com.atproto.repo.createRecord", "com.atproto.repo.putRecord", "com.atproto.repo.deleteRecord":
		f.write(w, r, nsid)
	case "com.atproto.repo.getRecord":
		f.getRecord(w, r)
	case "com.atproto.repo.uploadBlob":
		f.uploadBlob(w, r)
	default:
		xrpcErr(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
	}
}

func (f *fakePDS) createSession(w http.ResponseWriter, r *http.Request) {
	var in struct{ Identifier, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		xrpcErr(w, http.StatusBadRequest, "InvalidRequest", "Invalid request body")
		return
	}
	if (in.Identifier != f.handle && in.Identifier != f.did.String()) || in.Password != f.appPassword {
		xrpcErr(w, http.StatusUnauthorized, "AuthenticationRequired", "Invalid identifier or password")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	replyJSON(w, http.StatusOK, f.issueLocked())
}

func (f *fakePDS) refreshSession(w http.ResponseWriter, r *http.Request) {
	tok := bearerOf(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.refresh[tok] {
		xrpcErr(w, http.StatusBadRequest, "ExpiredToken", "Token has been revoked")
		return
	}
	delete(f.refresh, tok)
	replyJSON(w, http.StatusOK, f.issueLocked())
}

// issueLocked makes a fresh app-password session; the caller holds f.mu.
func (f *fakePDS) issueLocked() map[string]string {
	f.issued++
	access := f.token("com.atproto.appPass", time.Hour)
	refresh := f.token("com.atproto.refresh", 90*24*time.Hour)
	f.access[access] = true
	f.refresh[refresh] = true
	return map[string]string{"accessJwt": access, "refreshJwt": refresh, "did": f.did.String(), "handle": f.handle}
}

// token is a signed JWT with the claims pds.Sessions reads (exp, scope).
// Its expiry is in real time: pds.Sessions judges tokens by the system
// clock.
func (f *fakePDS) token(scope string, ttl time.Duration) string {
	claims := jwt.MapClaims{
		"scope": scope,
		"sub":   f.did.String(),
		"iat":   time.Now().Unix(),
		"exp":   time.Now().Add(ttl).Unix(),
		"jti":   strconv.Itoa(f.issued),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(fakeJWTSecret))
	if err != nil {
		panic("fake PDS: sign token: " + err.Error())
	}
	return s
}

// authorized answers InvalidToken unless the request carries an access
// token the fake issued.
func (f *fakePDS) authorized(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	ok := f.access[bearerOf(r)]
	f.mu.Unlock()
	if !ok {
		xrpcErr(w, http.StatusBadRequest, "InvalidToken", "Token could not be verified")
	}
	return ok
}

type writeInput struct {
	Repo       string          `json:"repo"`
	Collection string          `json:"collection"`
	Rkey       string          `json:"rkey"`
	Record     json.RawMessage `json:"record"`
}

func (f *fakePDS) write(w http.ResponseWriter, r *http.Request, nsid string) {
	if !f.authorized(w, r) {
		return
	}
	var in writeInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		xrpcErr(w, http.StatusBadRequest, "InvalidRequest", "Invalid request body")
		return
	}
	if in.Repo != f.did.String() {
		xrpcErr(w, http.StatusBadRequest, "InvalidRequest", "Could not find repo: "+in.Repo)
		return
	}
	flt, status, answer := f.writeScripted(nsid, in)
	switch {
	case flt.hang:
		// Read the body to its end first: only then does the server notice
		// the client hanging up and cancel r.Context(). The cap keeps a
		// missed cancellation from holding the test server open forever.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	case flt.resetIn > 0:
		reset := f.clock.Now().Add(flt.resetIn).Unix()
		w.Header().Set("RateLimit-Limit", "5000")
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
		w.Header().Set("RateLimit-Policy", "5000;w=3600")
		xrpcErr(w, http.StatusTooManyRequests, "RateLimitExceeded", "Rate Limit Exceeded")
	case flt.status != 0:
		xrpcErr(w, flt.status, flt.name, flt.message)
	default:
		replyJSON(w, status, answer)
	}
}

// writeScripted takes the next write fault, records the request, and
// applies the write unless the fault says not to. It returns the fault
// (zero: none) and the answer to a write served normally.
func (f *fakePDS) writeScripted(nsid string, in writeInput) (fault, int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	flt := nextFault(&f.writeFaults)
	req := writeRequest{NSID: nsid, Key: in.Collection + "/" + in.Rkey, At: f.clock.Now()}
	var status int
	var answer any
	if flt == (fault{}) || flt.applied {
		status, answer = f.applyLocked(nsid, in)
		req.Applied = status == http.StatusOK
	}
	f.writes = append(f.writes, req)
	return flt, status, answer
}

// applyLocked performs a write on the repository; the caller holds f.mu.
// A createRecord of a key that exists fails as Bluesky's PDS fails it, with
// a 500.
func (f *fakePDS) applyLocked(nsid string, in writeInput) (int, any) {
	key := in.Collection + "/" + in.Rkey
	uri := "at://" + f.did.String() + "/" + key
	commit := map[string]string{"cid": "bafyreicommitfakefakefake", "rev": syntax.NewTIDNow(0).String()}
	if nsid == "com.atproto.repo.deleteRecord" {
		delete(f.records, key)
		return http.StatusOK, map[string]any{"commit": commit}
	}
	if _, ok := f.records[key]; ok && nsid == "com.atproto.repo.createRecord" {
		return http.StatusInternalServerError, xrpcBody("InternalServerError", "Internal Server Error")
	}
	cid, err := record.CID(in.Record)
	if err != nil {
		return http.StatusBadRequest, xrpcBody("InvalidRequest", "Invalid record: "+err.Error())
	}
	f.records[key] = append(json.RawMessage(nil), in.Record...)
	return http.StatusOK, map[string]any{"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}
}

func (f *fakePDS) getRecord(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	key := q.Get("collection") + "/" + q.Get("rkey")
	f.mu.Lock()
	f.reads++
	flt := nextFault(&f.readFaults)
	rec, ok := f.records[key]
	f.mu.Unlock()
	switch {
	case flt.status != 0:
		xrpcErr(w, flt.status, flt.name, flt.message)
	case !ok || q.Get("repo") != f.did.String():
		xrpcErr(w, http.StatusBadRequest, "RecordNotFound", "Could not locate record: at://"+q.Get("repo")+"/"+key)
	default:
		cid, _ := record.CID(rec) // stored records were checked on write
		replyJSON(w, http.StatusOK, map[string]any{"uri": "at://" + f.did.String() + "/" + key, "cid": cid, "value": rec})
	}
}

func (f *fakePDS) uploadBlob(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil || len(data) == 0 {
		xrpcErr(w, http.StatusBadRequest, "InvalidRequest", "Request body is required")
		return
	}
	cid := record.BlobCID(data)
	f.mu.Lock()
	f.blobs[cid] = data
	f.mu.Unlock()
	replyJSON(w, http.StatusOK, map[string]any{"blob": map[string]any{
		"$type": "blob", "ref": map[string]string{"$link": cid},
		"mimeType": r.Header.Get("Content-Type"), "size": len(data),
	}})
}

// nextFault pops the first fault of a script (zero when it is used up).
func nextFault(script *[]fault) fault {
	if len(*script) == 0 {
		return fault{}
	}
	flt := (*script)[0]
	*script = (*script)[1:]
	return flt
}

func bearerOf(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func xrpcBody(name, message string) map[string]string {
	return map[string]string{"error": name, "message": message}
}

func xrpcErr(w http.ResponseWriter, status int, name, message string) {
	replyJSON(w, status, xrpcBody(name, message))
}

func replyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a client gone away is its own business
}

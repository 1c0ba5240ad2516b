package pds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/seal"
)

var ctx = context.Background()

func TestConnectWriteReadDelete(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s, _, _ := connected(t, f)
	if ok, err := s.Has(ctx, fakeDID); err != nil || !ok {
		t.Fatalf("Has = %v, %v; want true", ok, err)
	}
	c, err := s.Client(ctx, fakeDID)
	if err != nil {
		t.Fatal(err)
	}
	if c.DID() != fakeDID {
		t.Errorf("DID = %s", c.DID())
	}
	rec := []byte(`{"$type":"app.bsky.feed.post","text":"<b>&","n":9007199254740993,"createdAt":"2026-01-01T00:00:00.000Z"}`)
	res, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", rec)
	if err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	want, _ := record.CID(rec)
	if res.URI != "at://"+fakeDID+"/app.bsky.feed.post/3kabc" || res.CID != want || res.Rev != "rev-w" {
		t.Errorf("Result = %+v", res)
	}
	bodies, _ := f.seen()
	wantBody := `{"repo":"` + fakeDID + `","collection":"app.bsky.feed.post","rkey":"3kabc","record":` + string(rec) + `}`
	if len(bodies) != 1 || bodies[0] != wantBody {
		t.Errorf("PDS received\n%v\nwant\n%s", bodies, wantBody)
	}
	gotCID, value, err := c.GetRecord(ctx, "app.bsky.feed.post", "3kabc")
	valueCID, _ := record.CID(value)
	if err != nil || gotCID != want || valueCID != want {
		t.Errorf("GetRecord = %s, %s, %v", gotCID, value, err)
	}
	if _, err := c.PutRecord(ctx, "app.bsky.actor.profile", "self", []byte(`{"displayName":"A"}`)); err != nil {
		t.Errorf("PutRecord: %v", err)
	}
	del, err := c.DeleteRecord(ctx, "app.bsky.feed.post", "3kabc")
	if err != nil || del.URI != res.URI || del.Rev != "rev-d" || del.CID != "" {
		t.Errorf("DeleteRecord = %+v, %v", del, err)
	}
	_, _, err = c.GetRecord(ctx, "app.bsky.feed.post", "3kabc")
	if !errors.Is(err, ErrNotFound) || Retryable(err) {
		t.Errorf("GetRecord after delete = %v; want ErrNotFound", err)
	}
	if n := f.count("com.atproto.server.createSession"); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

func TestWriteArgumentsChecked(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s, _, _ := connected(t, f)
	c, _ := s.Client(ctx, fakeDID)
	tests := []struct {
		name, coll, rkey string
		rec              string
	}{
		{"bad collection", "not an nsid", "3kabc", `{}`},
		{"bad rkey", "app.bsky.feed.post", "a/b", `{}`},
		{"bad JSON", "app.bsky.feed.post", "3kabc", `{"a":`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.CreateRecord(ctx, tc.coll, tc.rkey, []byte(tc.rec)); err == nil || Retryable(err) {
				t.Errorf("CreateRecord = %v; want a permanent error", err)
			}
		})
	}
	if bodies, _ := f.seen(); len(bodies) != 0 {
		t.Errorf("invalid writes reached the PDS: %v", bodies)
	}
}

func TestConnectRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, identifier, password string
		did                        syntax.DID
		otherDID                   bool
		want                       error
	}{
		{"wrong app password", fakeHandle, "wrong-pass-word-xxxx", fakeDID, false, ErrLoginRefused},
		{"main password", fakeHandle, fakeMain, fakeDID, false, ErrNotAppPassword},
		{"session of another account", fakeHandle, fakeAppPass, fakeDID, true, ErrWrongAccount},
		{"DID without PDS", fakeHandle, fakeAppPass, "did:plc:unknownunknownunknown", false, identity.ErrDIDNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			if tc.otherDID {
				f.did = "did:plc:someoneelsesomeoneelse"
			}
			key, _ := seal.NewKey()
			s := NewSessions(newKV(t), key, f.directory(), nil)
			_, err := s.ConnectAppPassword(ctx, tc.did, tc.identifier, tc.password)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ConnectAppPassword = %v; want %v", err, tc.want)
			}
			if Retryable(err) {
				t.Errorf("Retryable(%v) = true", err)
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Errorf("error reveals the password: %v", err)
			}
			if ok, _ := s.Has(ctx, tc.did); ok {
				t.Error("a refused connection was stored")
			}
		})
	}
}

func TestSessionSealedAtRest(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	_, key, kv := connected(t, f)
	e, err := kv.Get(ctx, SessionKey(fakeDID))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fakeAppPass, "eyJ", fakeHandle, f.srv.URL} {
		if strings.Contains(string(e.Value()), secret) {
			t.Errorf("KV value contains %q in clear", secret)
		}
	}
	plain, err := key.Open(string(e.Value()))
	if err != nil {
		t.Fatal(err)
	}
	var st stored
	if err := json.Unmarshal(plain, &st); err != nil {
		t.Fatal(err)
	}
	if st.Host != f.srv.URL || st.Identifier != fakeHandle || st.AppPassword != fakeAppPass || st.AccessJwt == "" || st.RefreshJwt == "" {
		t.Errorf("stored session = %+v", st)
	}
}

func TestSessionKey(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^apppassword\.[a-z2-7]{26}$`)
	a, b := SessionKey("did:plc:aaaa"), SessionKey("did:plc:aaab")
	if !valid.MatchString(a) || !valid.MatchString(b) {
		t.Errorf("keys %q, %q are not of the documented form", a, b)
	}
	if a == b || a != SessionKey("did:plc:aaaa") {
		t.Errorf("keys are not one per DID: %q %q", a, b)
	}
}

func TestNoSession(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s, _, _ := connected(t, f)
	if err := s.Delete(ctx, fakeDID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, fakeDID); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if ok, err := s.Has(ctx, fakeDID); ok || err != nil {
		t.Errorf("Has after Delete = %v, %v", ok, err)
	}
	if _, err := s.Client(ctx, fakeDID); !errors.Is(err, ErrNoSession) {
		t.Errorf("Client after Delete = %v; want ErrNoSession", err)
	}
	other, _ := seal.NewKey()
	s2 := NewSessions(s.kv, other, f.directory(), nil)
	if _, err := s2.ConnectAppPassword(ctx, fakeDID, fakeHandle, fakeAppPass); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client(ctx, fakeDID); !errors.Is(err, ErrNoSession) {
		t.Errorf("Client with another ENCRYPTION_KEY = %v; want ErrNoSession", err)
	}
}

// storedSession reads back what the KV holds for the fake account.
func storedSession(t *testing.T, kv jetstream.KeyValue, key seal.Key) (stored, uint64) {
	t.Helper()
	e, err := kv.Get(ctx, SessionKey(fakeDID))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := key.Open(string(e.Value()))
	if err != nil {
		t.Fatal(err)
	}
	var st stored
	json.Unmarshal(plain, &st)
	return st, e.Revision()
}

func TestExpiredAccessRefreshedBeforeWrite(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.accessTTL = -time.Minute
	s, key, kv := connected(t, f)
	before, rev := storedSession(t, kv, key)
	f.set(func(f *fakePDS) { f.accessTTL = time.Hour })
	c, _ := s.Client(ctx, fakeDID)
	if _, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`)); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if n := f.count("com.atproto.server.refreshSession"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	_, auths := f.seen()
	if len(auths) != 1 || auths[0] == before.AccessJwt {
		t.Errorf("the PDS saw %d write attempts (expired token sent: %v)", len(auths), len(auths) > 0 && auths[0] == before.AccessJwt)
	}
	after, rev2 := storedSession(t, kv, key)
	if rev2 <= rev || after.AccessJwt != auths[0] || after.RefreshJwt == before.RefreshJwt || after.AppPassword != fakeAppPass {
		t.Errorf("renewed session not written back (rev %d → %d)", rev, rev2)
	}
}

func TestExpiredTokenAnswerRefreshesAndRetries(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s, key, kv := connected(t, f)
	first := true
	f.set(func(f *fakePDS) {
		f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
			if nsid != "com.atproto.repo.createRecord" || !first {
				return false
			}
			first = false
			xrpcError(w, 400, "ExpiredToken", "Token has expired")
			return true
		}
	})
	c, _ := s.Client(ctx, fakeDID)
	rec := []byte(`{"text":"retried"}`)
	if _, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", rec); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if n := f.count("com.atproto.server.refreshSession"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if n := f.count("com.atproto.repo.createRecord"); n != 2 {
		t.Errorf("%d createRecord calls, want 2 (rejected, then retried)", n)
	}
	bodies, _ := f.seen()
	if len(bodies) != 1 || !strings.Contains(bodies[0], string(rec)) {
		t.Errorf("retried body = %v", bodies)
	}
	st, _ := storedSession(t, kv, key)
	if _, auths := f.seen(); st.AccessJwt != auths[len(auths)-1] {
		t.Error("renewed access token not stored")
	}
}

func TestDeadRefreshLogsInAgain(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.accessTTL = -time.Minute
	s, key, kv := connected(t, f)
	f.set(func(f *fakePDS) {
		f.accessTTL = time.Hour
		f.refresh = map[string]bool{} // every refresh token revoked
	})
	c, _ := s.Client(ctx, fakeDID)
	if _, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`)); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if n := f.count("com.atproto.server.createSession"); n != 2 {
		t.Errorf("%d logins, want 2 (connect, then again)", n)
	}
	st, _ := storedSession(t, kv, key)
	f.mu.Lock()
	live := f.refresh[st.RefreshJwt]
	f.mu.Unlock()
	if !live {
		t.Error("the new login's refresh token was not stored")
	}
}

func TestRevokedAppPassword(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.accessTTL = -time.Minute
	s, _, _ := connected(t, f)
	f.set(func(f *fakePDS) {
		f.refresh = map[string]bool{}
		f.appPassword = "a-new-password-xxxx"
	})
	c, _ := s.Client(ctx, fakeDID)
	_, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`))
	if !errors.Is(err, ErrRevoked) {
		t.Fatalf("CreateRecord = %v; want ErrRevoked", err)
	}
	if Retryable(err) || UnknownOutcome(err) {
		t.Errorf("Retryable=%v UnknownOutcome=%v for a revoked session", Retryable(err), UnknownOutcome(err))
	}
	if strings.Contains(err.Error(), fakeAppPass) || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("error reveals a secret: %v", err)
	}
	if n := f.count("com.atproto.repo.createRecord"); n != 0 {
		t.Errorf("write sent %d times with a dead session", n)
	}
}

func TestRenewalCASConflictAdoptsOtherWriter(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.accessTTL = -time.Minute
	s, key, kv := connected(t, f)
	f.set(func(f *fakePDS) { f.accessTTL = time.Hour })
	c, _ := s.Client(ctx, fakeDID)

	// While this client refreshes, another process stores its own renewal.
	var theirs stored
	f.set(func(f *fakePDS) {
		f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
			if nsid != "com.atproto.server.refreshSession" || theirs.AccessJwt != "" {
				return false
			}
			st, rev := storedSession(t, kv, key)
			f.mu.Lock()
			tok := f.issue("com.atproto.appPass")
			f.mu.Unlock()
			st.AccessJwt, st.RefreshJwt = tok["accessJwt"], tok["refreshJwt"]
			sealed, _ := s.seal(st)
			if _, err := kv.Update(ctx, SessionKey(fakeDID), sealed, rev); err != nil {
				t.Errorf("other writer: %v", err)
			}
			theirs = st
			return false
		}
	})
	if _, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"x"}`)); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	_, auths := f.seen()
	if len(auths) != 1 || auths[0] != theirs.AccessJwt {
		t.Error("after losing the compare-and-swap the client did not use the other writer's session")
	}
	if st, _ := storedSession(t, kv, key); st.AccessJwt != theirs.AccessJwt {
		t.Error("the losing writer overwrote the winner's session")
	}
}

func TestConcurrentCallsRefreshOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.accessTTL = -time.Minute
	s, _, _ := connected(t, f)
	f.set(func(f *fakePDS) { f.accessTTL = time.Hour })
	c, _ := s.Client(ctx, fakeDID)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := c.PutRecord(ctx, "app.bsky.feed.post", "3kab"+string(rune('a'+i)), []byte(`{"text":"x"}`))
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := f.count("com.atproto.server.refreshSession"); n != 1 {
		t.Errorf("%d refreshes for one expired token, want 1", n)
	}
}

func TestSessionNeverPrints(t *testing.T) {
	t.Parallel()
	st := stored{Host: "h", Identifier: "i", AppPassword: fakeAppPass, AccessJwt: "eyJaccess", RefreshJwt: "eyJrefresh"}
	a := &appAuth{cur: st}
	c := &xrpcClient{api: newAPI(nil, "h", a)}
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s", st, st, st, st),
		fmt.Sprintf("%v %+v %#v", a, a, a),
		fmt.Sprintf("%v %+v %#v", c, c, c),
		fmt.Sprintf("%v %+v", c.api, c.api),
	} {
		if strings.Contains(out, fakeAppPass) || strings.Contains(out, "eyJ") {
			t.Errorf("secrets printed: %s", out)
		}
	}
}

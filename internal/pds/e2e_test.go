package pds

import (
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/seal"
)

// TestRealPDS runs the whole client against Bluesky's PDS (internal/pdstest).
func TestRealPDS(t *testing.T) {
	h := pdstest.Load(t)
	alice := h.Account(t, 0)
	did := syntax.DID(alice.DID)
	key, _ := seal.NewKey()
	kv := newKV(t)
	s := NewSessions(kv, key, &identity.BaseDirectory{PLCURL: h.PLCURL, SkipHandleVerification: true}, nil)

	if _, err := s.ConnectAppPassword(ctx, did, alice.Handle, alice.Password); !errors.Is(err, ErrNotAppPassword) {
		t.Errorf("connect with the main password = %v; want ErrNotAppPassword", err)
	}
	if _, err := s.ConnectAppPassword(ctx, did, alice.Handle, "wrong-wrong-wrong-wrong"); !errors.Is(err, ErrLoginRefused) {
		t.Errorf("connect with a wrong password = %v; want ErrLoginRefused", err)
	}
	host, err := s.ConnectAppPassword(ctx, did, alice.Handle, alice.AppPassword)
	if err != nil {
		t.Fatalf("ConnectAppPassword: %v", err)
	}
	if host != h.PDSURL {
		t.Errorf("host = %s, want %s", host, h.PDSURL)
	}
	c, err := s.Client(ctx, did)
	if err != nil {
		t.Fatal(err)
	}

	rkey := syntax.NewTIDNow(0).String()
	post := []byte(`{"$type":"app.bsky.feed.post","text":"scheduled by alf","createdAt":"` +
		time.Now().UTC().Format(record.TimeFormat) + `","langs":["en"]}`)
	want, err := record.CID(post)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateRecord(ctx, "app.bsky.feed.post", rkey, post)
	if err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if res.CID != want || res.URI != "at://"+alice.DID+"/app.bsky.feed.post/"+rkey || res.Rev == "" {
		t.Errorf("CreateRecord = %+v; want CID %s", res, want)
	}
	gotCID, value, err := c.GetRecord(ctx, "app.bsky.feed.post", rkey)
	if err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if valueCID, _ := record.CID(value); gotCID != want || valueCID != want {
		t.Errorf("GetRecord CID = %s (value hashes to %s), want %s", gotCID, valueCID, want)
	}

	_, err = c.CreateRecord(ctx, "app.bsky.feed.post", rkey, post)
	if err == nil || !UnknownOutcome(err) {
		t.Errorf("second create with rkey %s = %v; want an error with UnknownOutcome", rkey, err)
	}

	profile := []byte(`{"$type":"app.bsky.actor.profile","displayName":"Alice via alf"}`)
	pres, err := c.PutRecord(ctx, "app.bsky.actor.profile", "self", profile)
	if wantP, _ := record.CID(profile); err != nil || pres.CID != wantP {
		t.Errorf("PutRecord profile = %+v, %v; want CID %s", pres, err, wantP)
	}

	if _, err := c.DeleteRecord(ctx, "app.bsky.feed.post", rkey); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	if _, _, err := c.GetRecord(ctx, "app.bsky.feed.post", rkey); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRecord after delete = %v; want ErrNotFound", err)
	}
}

// TestRealPDSRenewal breaks the stored tokens so the client must refresh,
// then log in again, then give up once the app password is revoked.
func TestRealPDSRenewal(t *testing.T) {
	h := pdstest.Load(t)
	bob := h.Account(t, 1)
	did := syntax.DID(bob.DID)

	// A fresh app password for bob, made with his main password, so that
	// revoking it does not disturb other tests.
	main, err := atclient.LoginWithPasswordHost(ctx, h.PDSURL, bob.Handle, bob.Password, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	name := "alf-e2e-" + syntax.NewTIDNow(0).String()
	var created struct{ Password string }
	if err := main.Post(ctx, "com.atproto.server.createAppPassword", map[string]any{"name": name}, &created); err != nil {
		t.Fatalf("createAppPassword: %v", err)
	}

	key, _ := seal.NewKey()
	kv := newKV(t)
	calls := &countingTransport{n: map[string]int{}}
	s := NewSessions(kv, key, &identity.BaseDirectory{PLCURL: h.PLCURL, SkipHandleVerification: true}, &http.Client{Transport: calls})
	if _, err := s.ConnectAppPassword(ctx, did, bob.DID, created.Password); err != nil {
		t.Fatalf("ConnectAppPassword: %v", err)
	}
	breakStored := func(access, refresh bool) {
		t.Helper()
		e, err := kv.Get(ctx, SessionKey(did))
		if err != nil {
			t.Fatal(err)
		}
		st := openStored(t, key, e.Value())
		if access {
			st.AccessJwt = "not-a-token"
		}
		if refresh {
			st.RefreshJwt = "not-a-token"
		}
		sealed, _ := s.seal(st)
		if _, err := kv.Update(ctx, SessionKey(did), sealed, e.Revision()); err != nil {
			t.Fatal(err)
		}
	}
	write := func() error {
		t.Helper()
		c, err := s.Client(ctx, did)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.PutRecord(ctx, "app.bsky.actor.profile", "self", []byte(`{"displayName":"Bob"}`))
		return err
	}

	breakStored(true, false)
	if err := write(); err != nil {
		t.Fatalf("write after the access token broke (refresh expected): %v", err)
	}
	if r, l := calls.get("refreshSession"), calls.get("createSession"); r != 1 || l != 1 {
		t.Errorf("after a broken access token: %d refreshes, %d logins; want 1, 1 (the connect)", r, l)
	}
	breakStored(true, true)
	if err := write(); err != nil {
		t.Fatalf("write after both tokens broke (login again expected): %v", err)
	}
	if r, l := calls.get("refreshSession"), calls.get("createSession"); r != 2 || l != 2 {
		t.Errorf("after broken tokens: %d refreshes, %d logins; want 2, 2", r, l)
	}
	if err := main.Post(ctx, "com.atproto.server.revokeAppPassword", map[string]any{"name": name}, nil); err != nil {
		t.Fatalf("revokeAppPassword: %v", err)
	}
	breakStored(true, true)
	err = write()
	if !errors.Is(err, ErrRevoked) || Retryable(err) {
		t.Errorf("write after the app password was revoked = %v; want ErrRevoked, not retryable", err)
	}
}

func openStored(t *testing.T, key seal.Key, sealed []byte) stored {
	t.Helper()
	plain, err := key.Open(string(sealed))
	if err != nil {
		t.Fatal(err)
	}
	var st stored
	if err := json.Unmarshal(plain, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// countingTransport counts XRPC calls by method name.
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[strings.TrimPrefix(path.Base(r.URL.Path), "com.atproto.server.")]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

package pds

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// headerAuth is an auth method that adds a header, or fails with err
// before sending anything.
type headerAuth struct{ err error }

func (a headerAuth) DoWithAuth(c *http.Client, req *http.Request, _ syntax.NSID) (*http.Response, error) {
	if a.err != nil {
		return nil, a.err
	}
	req.Header.Set("Authorization", "DPoP test-token")
	return c.Do(req)
}

func TestOAuthClientWrites(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/xrpc/com.atproto.repo.createRecord" || r.Header.Get("Authorization") != "DPoP test-token" {
			http.Error(w, `{"error":"AuthRequired"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"uri":"at://%s/app.bsky.feed.post/3kabc","cid":"bafyok","commit":{"rev":"r1"}}`, fakeDID)
	}))
	t.Cleanup(srv.Close)
	auth := headerAuth{}
	api := &atclient.APIClient{Client: srv.Client(), Host: srv.URL, Auth: auth}
	c := NewOAuthClient(fakeDID, api)
	res, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"hi"}`))
	if err != nil || res.CID != "bafyok" || res.Rev != "r1" || c.DID() != fakeDID {
		t.Fatalf("CreateRecord = %+v, %v", res, err)
	}
	if api.Auth != auth {
		t.Error("NewOAuthClient changed the caller's API client")
	}
}

func TestOAuthClientErrors(t *testing.T) {
	t.Parallel()
	// hangUp reads the whole request, then drops the connection: the
	// write may have happened.
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name               string
		host               string
		auth               atclient.AuthMethod
		retryable, unknown bool
	}{
		{"refresh failed", hangUp.URL, headerAuth{err: errors.New("token endpoint: HTTP 503")}, true, false},
		{"grant revoked", hangUp.URL, headerAuth{err: fmt.Errorf("dead: %w", ErrRevoked)}, false, false},
		{"no session", hangUp.URL, headerAuth{err: fmt.Errorf("gone: %w", ErrNoSession)}, false, false},
		{"connection lost after the write", hangUp.URL, headerAuth{}, true, true},
		{"connection refused", closed, headerAuth{}, true, false},
		{"no auth method, connection refused", closed, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewOAuthClient(fakeDID, &atclient.APIClient{Host: tt.host, Auth: tt.auth})
			_, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3kabc", []byte(`{"text":"hi"}`))
			if err == nil {
				t.Fatal("no error")
			}
			if Retryable(err) != tt.retryable || UnknownOutcome(err) != tt.unknown {
				t.Errorf("%v: Retryable %v UnknownOutcome %v; want %v %v", err, Retryable(err), UnknownOutcome(err), tt.retryable, tt.unknown)
			}
		})
	}
}

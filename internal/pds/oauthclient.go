package pds

import (
	"errors"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// NewOAuthClient returns a Client writing did's repository through api, an
// indigo API client whose Auth holds an OAuth session (internal/oauth's, or
// indigo's oauth.ClientSession). api is not modified.
//
// Its errors are classified like an app-password Client's: a request that
// failed in transport is a send failure (UnknownOutcome once it was written),
// and any other failure of the auth method (a token refresh that did not
// work) means the write was not sent: Retryable, unless the error matches
// ErrRevoked or ErrNoSession, which the auth method uses for a dead grant or
// a missing session.
func NewOAuthClient(did syntax.DID, api *atclient.APIClient) Client {
	wrapped := *api
	if wrapped.Client == nil {
		wrapped.Client = http.DefaultClient
	}
	wrapped.Auth = &sentAuth{inner: api.Auth}
	return &xrpcClient{did: did, api: &wrapped, timeout: DefaultCallTimeout}
}

// sentAuth wraps an auth method and tells transport failures (*sendError,
// recording whether the request was written) from failures of the auth
// method itself (*renewError).
type sentAuth struct{ inner atclient.AuthMethod }

func (a *sentAuth) DoWithAuth(c *http.Client, req *http.Request, nsid syntax.NSID) (*http.Response, error) {
	rt := &tracked{rt: c.Transport}
	if rt.rt == nil {
		rt.rt = http.DefaultTransport
	}
	hc := *c
	hc.Transport = rt
	var resp *http.Response
	var err error
	if a.inner == nil {
		resp, err = hc.Do(req)
	} else {
		resp, err = a.inner.DoWithAuth(&hc, req, nsid)
	}
	if err == nil {
		return resp, nil
	}
	var te *transportError
	if errors.As(err, &te) {
		return nil, &sendError{err: err, sent: rt.sent.Load()}
	}
	return nil, &renewError{err}
}

// tracked is a RoundTripper that marks its errors as transport errors and
// records whether the last request it carried was written completely.
type tracked struct {
	rt   http.RoundTripper
	sent atomic.Bool
}

func (t *tracked) RoundTrip(req *http.Request) (*http.Response, error) {
	t.sent.Store(false)
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		t.sent.Store(i.Err == nil)
	}}
	resp, err := t.rt.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return nil, &transportError{err}
	}
	return resp, nil
}

type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

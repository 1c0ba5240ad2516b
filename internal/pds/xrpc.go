package pds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

const userAgent = "alf (atproto Latency Fabric)"

// newAPI returns an atclient.APIClient for host that sends through auth.
func newAPI(hc *http.Client, host string, auth atclient.AuthMethod) *atclient.APIClient {
	return &atclient.APIClient{
		Client:  hc,
		Host:    host,
		Auth:    auth,
		Headers: http.Header{"User-Agent": []string{userAgent}},
	}
}

// call performs one XRPC call and decodes a 2xx JSON answer into out (nil:
// discard). body, when not nil, is sent as JSON.
func call(ctx context.Context, api *atclient.APIClient, method string, nsid syntax.NSID, query map[string][]string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := atclient.NewAPIRequest(method, nsid, rd)
	req.Headers.Set("Accept", "application/json")
	if body != nil {
		req.Headers.Set("Content-Type", "application/json")
	}
	for k, v := range query {
		req.QueryParams[k] = v
	}
	resp, err := api.Do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFrom(resp, time.Now())
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		// The PDS answered 2xx, so the call took effect: only the answer
		// was lost.
		return &sendError{err: fmt.Errorf("read %s answer: %w", nsid, err), sent: true}
	}
	return nil
}

// encodeJSON marshals v without HTML escaping, so a record's bytes reach the
// PDS as the client wrote them.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// send performs req with token as its bearer (none if empty). A failure
// without a response becomes a *sendError telling whether the request had
// been written out.
func send(c *http.Client, req *http.Request, token string) (*http.Response, error) {
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		sent.Store(i.Err == nil)
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, &sendError{err: err, sent: sent.Load()}
	}
	return resp, nil
}

// bearer is an atclient.AuthMethod with a fixed token (or none), for the
// session endpoints themselves.
type bearer string

func (b bearer) DoWithAuth(c *http.Client, req *http.Request, _ syntax.NSID) (*http.Response, error) {
	return send(c, req, string(b))
}

// Package content fetches the dynamic content of recurring schedules: a
// schedule with a contentUrl instead of a static record has, at each
// occurrence, the JSON object that URL answers published as its record.
//
// A Fetcher GETs the URL with two query parameters added, fireCount (how
// many occurrences have been published) and scheduledAt (the occurrence's
// time, RFC 3339 in UTC with milliseconds), and returns the body as received
// once it has checked that it is one JSON object:
//
//	f := content.New(content.Config{AllowPrivate: cfg.AllowPrivateContentURLs})
//	record, err := f.Fetch(ctx, schedule.ContentURL, schedule.FireCount, occurrence)
//	var cerr *content.Error
//	if errors.As(err, &cerr) && cerr.Temporary {
//		// retry the occurrence later
//	}
//
// The URL is the user's, so the fetch is defensive: a timeout bounds the
// whole fetch (redirects and body included), the body has a size cap (a
// longer one is an error, never truncated), at most three redirects are
// followed and only to http or https, no proxy or cookie jar is used, and,
// unless AllowPrivate is set, every connection is refused whose address is
// not public (loopback, private, link-local, CGNAT, ...). The check is made
// on the addresses the host name resolves to, just before dialing them, so it
// holds for redirects and for DNS that answers differently on each lookup.
//
// The URL may carry a secret (a token in its path, query or userinfo), so an
// Error names only its host.
package content

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 1_000_000
)

// MaxRedirects is how many redirects a fetch follows; one more is an error.
const MaxRedirects = 3

// Query parameters set on every fetch.
const (
	ParamFireCount   = "fireCount"
	ParamScheduledAt = "scheduledAt"
)

// TimeFormat is the layout of the scheduledAt parameter, always in UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Config configures a Fetcher.
type Config struct {
	// Timeout bounds the whole fetch, redirects and body included
	// (default 10 s).
	Timeout time.Duration
	// MaxBytes caps the body (default 1,000,000 = 1 MB); a longer body is
	// an error, never truncated.
	MaxBytes int64
	// AllowPrivate permits connections to addresses that are not public:
	// loopback, private (RFC 1918, RFC 4193 fc00::/7), link-local
	// (169.254/16, fe80::/10), CGNAT 100.64/10, unspecified, multicast,
	// documentation, reserved and the like. It is ALLOW_PRIVATE_CONTENT_URLS,
	// for tests and private deployments. By default such addresses are
	// refused before any connection is made.
	AllowPrivate bool
	// Transport, when set, is the base of the fetcher's transport (tests):
	// it is cloned, and its TLS settings and DialContext are used. Its
	// Proxy, DialTLSContext and DialTLS are ignored, so that, unless
	// AllowPrivate is set, DialContext is only ever called with an address
	// that passed the check.
	Transport *http.Transport
}

// Fetcher fetches content URLs. It is safe for concurrent use; one Fetcher
// reuses its connections across fetches.
type Fetcher struct {
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
}

// New returns a Fetcher configured by cfg, with defaults for its zero
// fields.
func New(cfg Config) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	return &Fetcher{
		client: &http.Client{
			Transport:     newTransport(cfg.Transport, cfg.AllowPrivate),
			CheckRedirect: checkRedirect,
		},
		timeout:  cfg.Timeout,
		maxBytes: cfg.MaxBytes,
	}
}

// newTransport clones base (default http.DefaultTransport) without its
// proxy and TLS dialers, and guards its dialing unless allowPrivate.
func newTransport(base *http.Transport, allowPrivate bool) *http.Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	t.Proxy = nil
	t.DialTLSContext = nil
	t.DialTLS = nil // deprecated, but it would bypass the guard just the same
	if !allowPrivate {
		t.DialContext = guard(t.DialContext)
	}
	return t
}

// Fetch GETs rawURL with the query parameters fireCount (decimal) and
// scheduledAt (scheduledAt in UTC, in TimeFormat) set, replacing any of the
// same name already in the URL and keeping the others as they are, and with
// the header Accept: application/json. It returns the body, which must be
// one JSON object, exactly as received.
//
// Every error is an *Error; its Temporary field says whether fetching again
// later can help.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, fireCount int, scheduledAt time.Time) ([]byte, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	host := u.Host
	u.RawQuery = setParams(u.RawQuery, fireCount, scheduledAt)
	u.Fragment, u.RawFragment = "", ""

	ctx, cancel := context.WithTimeoutCause(ctx, f.timeout, errTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, newError(host, 0, false, redact(err), "cannot be requested")
	}
	req.Header.Set("Accept", "application/json")

	resp, err := f.client.Do(req)
	if err != nil {
		return nil, f.requestError(ctx, host, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(host, resp); err != nil {
		return nil, err
	}
	body, err := f.readBody(ctx, host, resp)
	if err != nil {
		return nil, err
	}
	if err := checkObject(body); err != nil {
		return nil, newError(host, resp.StatusCode, false, err, "did not answer a JSON object")
	}
	return body, nil
}

// parseURL parses rawURL, which must be an absolute http or https URL with
// a host. The error leaves out the URL and the parser's message, which
// could quote a part of it.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, newError("", 0, false, nil, "is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, newError(u.Host, 0, false, nil, "is not an absolute http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, newError("", 0, false, nil, "has no host")
	}
	return u, nil
}

// setParams returns rawQuery without its fireCount and scheduledAt
// parameters and with the fetch's appended. The other parameters keep
// their order and their encoding.
func setParams(rawQuery string, fireCount int, scheduledAt time.Time) string {
	var kept []string
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if name, err := url.QueryUnescape(key); err == nil && (name == ParamFireCount || name == ParamScheduledAt) {
			continue
		}
		kept = append(kept, part)
	}
	ours := url.Values{
		ParamFireCount:   {strconv.Itoa(fireCount)},
		ParamScheduledAt: {scheduledAt.UTC().Format(TimeFormat)},
	}
	return strings.Join(append(kept, ours.Encode()), "&")
}

// checkRedirect follows at most MaxRedirects redirects, to http or https.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return errTooManyRedirects
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return errRedirectScheme
	}
	return nil
}

var (
	errTimeout          = errors.New("fetch timeout")
	errTooManyRedirects = fmt.Errorf("more than %d redirects", MaxRedirects)
	errRedirectScheme   = errors.New("redirect to a URL that is not http or https")
)

// requestError classifies an error of the client's Do: a refused address
// or redirect is permanent, anything else (network, DNS, timeout) temporary.
func (f *Fetcher) requestError(ctx context.Context, host string, err error) *Error {
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return refused.asError(host)
	case errors.Is(err, errTooManyRedirects):
		return newError(host, 0, false, nil, "redirected more than %d times", MaxRedirects)
	case errors.Is(err, errRedirectScheme):
		return newError(host, 0, false, nil, "redirected to a URL that is not http or https")
	}
	return f.networkError(ctx, host, redact(err))
}

// networkError is the temporary error of a failed connection or read,
// saying so when the fetch ran out of its Timeout.
func (f *Fetcher) networkError(ctx context.Context, host string, err error) *Error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return newError(host, 0, true, err, "did not answer within %s", f.timeout)
	}
	return newError(host, 0, true, err, "could not be fetched")
}

// checkStatus accepts a 2xx answer. 5xx, 408 and 429 are temporary errors,
// any other status permanent.
func checkStatus(host string, resp *http.Response) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	temporary := code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
	return newError(host, code, temporary, nil, "answered %d", code)
}

// readBody reads the whole body, refusing one longer than MaxBytes.
func (f *Fetcher) readBody(ctx context.Context, host string, resp *http.Response) ([]byte, error) {
	if resp.ContentLength > f.maxBytes {
		return nil, f.tooLarge(host, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, f.networkError(ctx, host, err)
	}
	if int64(len(body)) > f.maxBytes {
		return nil, f.tooLarge(host, resp.StatusCode)
	}
	return body, nil
}

func (f *Fetcher) tooLarge(host string, status int) *Error {
	return newError(host, status, false, nil, "answered a body larger than %d bytes", f.maxBytes)
}

// checkObject reports whether body is exactly one JSON object.
func checkObject(body []byte) error {
	if !json.Valid(body) {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		return errors.New("invalid JSON")
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); trimmed[0] != '{' {
		return errors.New("the body is JSON but not an object")
	}
	return nil
}

// redact drops the URL that net/http puts in its errors: it may hold a
// secret.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

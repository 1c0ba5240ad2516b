package pdstest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TLSEnv names the variable holding the path of the ready.json of the
// second harness scripts/test starts, in TLS mode, for OAuth tests: indigo's
// OAuth client accepts only https authorization servers without a port.
const TLSEnv = "ALF_TEST_PDS_TLS"

// OAuthClientOrigin is the origin of the confidential OAuth client that
// tests run: the TLS harness's PDS fetches client metadata and JWKS for
// this origin from a loopback address instead (TLSHarness.ClientAddr).
const OAuthClientOrigin = "https://alf.e2e.internal"

// TLSHarness describes the TLS-mode PDS: its public URL is
// https://<TLS.Hostname> (in DID documents and as OAuth issuer), served on
// 127.0.0.1:<TLS.Port>.
type TLSHarness struct {
	Harness
	PublicURL string `json:"publicUrl"`
	TLS       struct {
		Hostname string `json:"hostname"`
		Port     int    `json:"port"`
		CAFile   string `json:"caFile"`
		URL      string `json:"url"`
	} `json:"tls"`
	FetchRewrite map[string]string `json:"fetchRewrite"`

	// ClientAddr is the loopback host:port where the test must serve
	// OAuthClientOrigin's client metadata and JWKS.
	ClientAddr string `json:"-"`
}

// LoadTLS returns the running TLS harness, or skips the test when none was
// started.
func LoadTLS(t testing.TB) *TLSHarness {
	t.Helper()
	path := os.Getenv(TLSEnv)
	if path == "" {
		t.Skipf("end-to-end OAuth test: needs the TLS-mode PDS; run scripts/test (it sets %s)", TLSEnv)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read TLS PDS harness info %s: %v", path, err)
	}
	var h TLSHarness
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("parse TLS PDS harness info %s: %v", path, err)
	}
	if h.TLS.Hostname == "" || h.TLS.Port == 0 || h.TLS.CAFile == "" || len(h.Accounts) == 0 {
		t.Fatalf("TLS PDS harness info %s is incomplete (was it started with PDS_HOSTNAME?)", path)
	}
	target, err := url.Parse(h.FetchRewrite[OAuthClientOrigin])
	if err != nil || target.Host == "" {
		t.Fatalf("TLS PDS harness %s has no PDS_FETCH_REWRITE for %s", path, OAuthClientOrigin)
	}
	h.ClientAddr = target.Host
	return &h
}

// HTTPClient returns a client that trusts the harness's CA and dials
// <hostname>:443 at 127.0.0.1:<TLS port>; other addresses (the PLC) are
// dialled as usual.
func (h *TLSHarness) HTTPClient(t testing.TB) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(h.TLS.CAFile)
	if err != nil {
		t.Fatalf("read harness CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("harness CA: no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	d := &net.Dialer{Timeout: 5 * time.Second}
	from := net.JoinHostPort(h.TLS.Hostname, "443")
	to := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.TLS.Port))
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == from {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Authorize plays the browser on the harness's authorization page: it
// loads authorizeURL, signs in as username with password and consents
// through the page's own JSON API, and returns the query of the final
// redirect to the client's redirect_uri (state, iss, code). The redirect
// target is not contacted.
func Authorize(ctx context.Context, hc *http.Client, authorizeURL, username, password string) (url.Values, error) {
	b := &browser{c: *hc, cookies: map[string]string{}, referer: authorizeURL}
	b.c.Jar = nil
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	au, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, err
	}
	b.origin = au.Scheme + "://" + au.Host

	resp, err := b.navigate(ctx, authorizeURL, "cross-site")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || b.cookies["csrf-token"] == "" {
		return nil, fmt.Errorf("authorize page: HTTP %d", resp.StatusCode)
	}
	var signIn struct {
		Account struct {
			DID string `json:"did"`
		} `json:"account"`
	}
	if err := b.api(ctx, "/sign-in", map[string]any{"locale": "en", "username": username, "password": password, "remember": true}, &signIn); err != nil {
		return nil, err
	}
	var consent struct {
		URL string `json:"url"`
	}
	if err := b.api(ctx, "/consent", map[string]any{"did": signIn.Account.DID}, &consent); err != nil {
		return nil, err
	}
	resp, err = b.navigate(ctx, consent.URL, "same-origin")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("authorize/redirect: HTTP %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, err
	}
	return loc.Query(), nil
}

// browser keeps the cookies by hand: they are Secure, and a cookie jar
// would need the page's real origin.
type browser struct {
	c       http.Client
	cookies map[string]string
	origin  string
	referer string
}

func (b *browser) keep(resp *http.Response) {
	for _, ck := range resp.Cookies() {
		b.cookies[ck.Name] = ck.Value
	}
}

func (b *browser) cookieHeader() string {
	var s []string
	for k, v := range b.cookies {
		s = append(s, k+"="+v)
	}
	return strings.Join(s, "; ")
}

// navigate GETs a page as a top-level navigation; the body is discarded.
func (b *browser) navigate(ctx context.Context, u, site string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Sec-Fetch-Site", site)
	if site == "same-origin" {
		req.Header.Set("Referer", b.referer)
		req.Header.Set("Cookie", b.cookieHeader())
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	b.keep(resp)
	return resp, nil
}

// api calls the authorization page's JSON API as its script would.
func (b *browser) api(ctx context.Context, endpoint string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.origin+"/@atproto/oauth-provider/~api"+endpoint, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	for k, v := range map[string]string{
		"Content-Type": "application/json", "Accept": "application/json",
		"Origin": b.origin, "Referer": b.referer,
		"Sec-Fetch-Mode": "same-origin", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "empty",
		"X-CSRF-Token": b.cookies["csrf-token"], "Cookie": b.cookieHeader(),
	} {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b.keep(resp)
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d %.300s", endpoint, resp.StatusCode, rb)
	}
	return json.Unmarshal(rb, out)
}

package oauth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// origin is scheme://host[:port] of an absolute URL, lowercase, without the
// scheme's default port.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}

// parseOrigins reads ALLOWED_REDIRECT_ORIGINS entries: http(s) origins,
// without path, query or fragment.
func parseOrigins(list []string) ([]string, error) {
	var out []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.User != nil || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("oauth: redirect origin %q must be scheme://host[:port]", s)
		}
		out = append(out, origin(u))
	}
	return out, nil
}

var (
	errRedirectInvalid = errors.New("redirect_uri is not a valid URL")
	errRedirectOrigin  = errors.New("redirect_uri origin is not allowed")
)

// checkRedirect validates a redirect_uri given to /oauth/authorize: an
// absolute http(s) URL without user info whose origin is alf's own or one
// of the allowed ones. Anything else would make alf an open redirect.
func (c *Client) checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errRedirectInvalid
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.User != nil {
		return errRedirectOrigin
	}
	if o := origin(u); o != c.origin && !slices.Contains(c.origins, o) {
		return errRedirectOrigin
	}
	return nil
}

// withDID adds did=<DID> to the query of a validated redirect URI, keeping
// its other parameters as they were and replacing any did it had.
func withDID(redirect string, did syntax.DID) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return redirect // validated before it was stored
	}
	var parts []string
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, _, _ := strings.Cut(p, "=")
		if key, err := url.QueryUnescape(k); p == "" || (err == nil && key == "did") {
			continue
		}
		parts = append(parts, p)
	}
	parts = append(parts, "did="+url.QueryEscape(did.String()))
	u.RawQuery = strings.Join(parts, "&")
	u.ForceQuery = false
	return u.String()
}

package auth

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// ServiceDID returns the did:web naming the host of serviceURL, the
// audience alf's tokens must carry. A port is percent-encoded:
// http://localhost:1986 → did:web:localhost%3A1986. Any path is ignored:
// atproto's did:web names a host.
func ServiceDID(serviceURL string) (string, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return "", fmt.Errorf("service URL: not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("service URL: scheme must be http or https")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.Contains(host, ":") {
		return "", fmt.Errorf("service URL: host must be a DNS name or IPv4 address")
	}
	id := "did:web:" + host
	if port := u.Port(); port != "" {
		id += "%3A" + port
	}
	if _, err := syntax.ParseDID(id); err != nil {
		return "", fmt.Errorf("service URL: host %q makes no valid did:web: %w", host, err)
	}
	return id, nil
}

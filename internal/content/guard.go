package content

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// dialFunc is the signature of http.Transport.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// guard wraps dial (default a net.Dialer) so that it connects only to
// public addresses: it resolves the host itself, refuses the connection if
// any address is not public, and dials the addresses it checked, never the
// name, so that a second lookup cannot answer differently (DNS rebinding).
func guard(dial dialFunc) dialFunc {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := resolve(ctx, network, host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if !isPublic(ip) {
				return nil, &refusedError{host: host, ip: ip}
			}
		}
		return dialFirst(ctx, dial, network, ips, port)
	}
}

// resolve returns the addresses of host for network ("tcp", "tcp4" or
// "tcp6"), IPv4 ones unmapped: host itself when it is an IP address.
func resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ipNetwork := "ip"
	switch network {
	case "tcp4":
		ipNetwork = "ip4"
	case "tcp6":
		ipNetwork = "ip6"
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNetwork, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap() // the resolver may answer IPv4 as ::ffff:a.b.c.d
	}
	return ips, nil
}

// dialFirst dials ips in order and returns the first connection made.
func dialFirst(ctx context.Context, dial dialFunc, network string, ips []netip.Addr, port string) (net.Conn, error) {
	var errs []error
	for _, ip := range ips {
		conn, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// refusedError is a connection guard refused: host resolved to ip, which
// is not public.
type refusedError struct {
	host string
	ip   netip.Addr
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s: %s is not a public address", e.host, e.ip)
}

// asError is the Error of a fetch of the URL on urlHost refused because of
// e: the URL's own host, or that of a redirect.
func (e *refusedError) asError(urlHost string) *Error {
	what := fmt.Sprintf("resolves to a private address (%s)", e.ip)
	if strings.EqualFold(e.host, e.ip.String()) {
		what = fmt.Sprintf("is a private address (%s)", e.ip)
	}
	if !strings.EqualFold(e.host, hostname(urlHost)) {
		what = fmt.Sprintf("redirected to %s, which %s", e.host, what)
	}
	return newError(urlHost, 0, false, nil, "%s, which alf refuses to fetch", what)
}

// hostname is hostport without its port and IPv6 brackets.
func hostname(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.Trim(hostport, "[]")
}

// nonPublic lists the address blocks alf does not fetch from besides the
// loopback, link-local, multicast and unspecified addresses: the IANA
// special-purpose blocks that are not globally reachable, the private
// ones and the reserved. IPv6 outside 2000::/3 is refused as a whole (see
// isPublic), so only blocks inside it are listed.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT, RFC 6598
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast

	netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4, embeds any IPv4 address
	netip.MustParsePrefix("3fff::/20"),     // documentation
}

// ipv6Global is the IPv6 global unicast space; everything outside it
// (loopback, ULA fc00::/7, link-local, multicast, NAT64 64:ff9b::/96, ...)
// is not public.
var ipv6Global = netip.MustParsePrefix("2000::/3")

// isPublic reports whether ip is a public unicast address. An IPv4 address
// mapped into IPv6 is judged as the IPv4 address.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	if ip.Is6() && !ipv6Global.Contains(ip) {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

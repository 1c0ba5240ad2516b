package content

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestIsPublic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"93.184.215.14", true},
		{"172.32.0.1", true},
		{"100.128.0.1", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001:80b::200e", true},
		{"::ffff:8.8.8.8", true},

		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},
		{"64:ff9b::7f00:1", false},
		{"100::1", false},
		{"2001::1", false},
		{"2001:db8::1", false},
		{"2002:7f00:1::", false},
		{"3fff::1", false},
	}
	for _, tt := range tests {
		if got := isPublic(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("isPublic(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if isPublic(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

// The guard refuses a private address before calling the dialer, and hands
// a public one to it as the address, not the name.
func TestGuard(t *testing.T) {
	t.Parallel()
	var dialed []string
	dial := guard(func(_ context.Context, _, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return nil, errors.New("test dialer")
	})
	ctx := context.Background()
	tests := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1:80", true},
		{"localhost:80", true},
		{"[::1]:443", true},
		{"[::ffff:169.254.169.254]:80", true},
		{"8.8.8.8:443", false},
		{"[2606:4700:4700::1111]:443", false},
	}
	for _, tt := range tests {
		dialed = nil
		_, err := dial(ctx, "tcp", tt.addr)
		var refused *refusedError
		if errors.As(err, &refused) != tt.refused {
			t.Errorf("dial %s: %v, want refused %v", tt.addr, err, tt.refused)
		}
		if tt.refused && len(dialed) != 0 {
			t.Errorf("dial %s: the dialer was called with %q", tt.addr, dialed)
		}
		if !tt.refused && (len(dialed) != 1 || dialed[0] != tt.addr) {
			t.Errorf("dial %s: the dialer was called with %q, want it once", tt.addr, dialed)
		}
	}
}

package walletapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// errForbiddenAddress is returned when an outbound connection would reach
// an address the wallet must not call on a patient's behalf.
var errForbiddenAddress = errors.New("walletapi: refusing to connect to a private, loopback or link-local address")

// NewHTTPClient returns the client the wallet uses for every outbound
// request when New is given none: a timeout, and a dialer that refuses
// private, loopback (unless allowLoopback), link-local, multicast and
// unspecified addresses after DNS resolution. Offer links, metadata and
// status list URLs come from outside, so without this a patient could make
// the server fetch from the internal network (SSRF).
func NewHTTPClient(timeout time.Duration, allowLoopback bool) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		return checkDialAddress(address, allowLoopback)
	}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // a proxy would be dialled instead of the checked address
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: timeout, Transport: t}
}

func checkDialAddress(address string, allowLoopback bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("walletapi: dial %q: %w", address, err)
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		if allowLoopback {
			return nil
		}
	case ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast(),
		ip.IsMulticast(), ip.IsUnspecified(), isSpecial(ip):
	default:
		return nil
	}
	return fmt.Errorf("%w (%s)", errForbiddenAddress, ip)
}

// special are ranges outside the standard library's predicates that an
// internet service has no business calling: carrier-grade NAT, the IETF
// protocol assignments, documentation and benchmarking nets.
var special = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001:db8::/32"),
}

func isSpecial(ip netip.Addr) bool {
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

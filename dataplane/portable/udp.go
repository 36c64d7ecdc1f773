package portable

import (
	"fmt"
	"net"
	"net/netip"
)

// UDPUnderlay is a standalone ESP-in-UDP socket (RFC 3948), normally on port
// 4500. Use it when no IKE daemon shares the port; otherwise feed
// Backend.DeliverESP from the IKE transport.
type UDPUnderlay struct {
	conn  *net.UDPConn
	local netip.AddrPort
	mmsg  // batch I/O state (Linux); its zero value means single reads
}

// ListenUDP opens the socket on addr (e.g. 198.18.0.1:4500, or [::]:4500
// for both families).
func ListenUDP(addr netip.AddrPort) (*UDPUnderlay, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listen esp-in-udp %v: %w", addr, err)
	}
	u := &UDPUnderlay{conn: c, local: addr}
	if err := u.init(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("listen esp-in-udp %v: %w", addr, err)
	}
	return u, nil
}

// WriteESP implements Underlay.
func (u *UDPUnderlay) WriteESP(b []byte, remote netip.AddrPort) error {
	_, err := u.conn.WriteToUDPAddrPort(b, remote)
	return err
}

// Close closes the socket, which ends Serve.
func (u *UDPUnderlay) Close() error { return u.conn.Close() }

// RawUnderlay is a raw IP socket for protocol 50 (ESP without UDP). The
// kernel builds and strips the outer IP header.
type RawUnderlay struct {
	conn  *net.IPConn
	local netip.Addr
	mmsg  // batch I/O state (Linux)
}

// ListenRaw opens a raw ESP socket bound to local (IPv4 or IPv6).
func ListenRaw(local netip.Addr) (*RawUnderlay, error) {
	network := "ip4:50"
	if local.Is6() {
		network = "ip6:50"
	}
	c, err := net.ListenIP(network, &net.IPAddr{IP: local.AsSlice()})
	if err != nil {
		return nil, fmt.Errorf("listen raw esp %v: %w", local, err)
	}
	r := &RawUnderlay{conn: c, local: local}
	if err := r.init(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("listen raw esp %v: %w", local, err)
	}
	return r, nil
}

// WriteESP implements Underlay; remote's port is ignored.
func (r *RawUnderlay) WriteESP(b []byte, remote netip.AddrPort) error {
	_, err := r.conn.WriteToIP(b, &net.IPAddr{IP: remote.Addr().AsSlice()})
	return err
}

// Close closes the socket, which ends Serve.
func (r *RawUnderlay) Close() error { return r.conn.Close() }

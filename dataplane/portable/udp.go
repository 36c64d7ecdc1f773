package portable

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/esphub/esphub/dataplane"
)

// UDPUnderlay is a standalone ESP-in-UDP socket (RFC 3948), normally on port
// 4500. Use it when no IKE daemon shares the port; otherwise feed
// Backend.DeliverESP from the IKE transport.
type UDPUnderlay struct {
	conn  *net.UDPConn
	local netip.AddrPort
}

// ListenUDP opens the socket on addr (e.g. 198.18.0.1:4500, or [::]:4500
// for both families).
func ListenUDP(addr netip.AddrPort) (*UDPUnderlay, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listen esp-in-udp %v: %w", addr, err)
	}
	return &UDPUnderlay{conn: c, local: addr}, nil
}

// WriteESP implements Underlay.
func (u *UDPUnderlay) WriteESP(b []byte, remote netip.AddrPort) error {
	_, err := u.conn.WriteToUDPAddrPort(b, remote)
	return err
}

// Close closes the socket, which ends Serve.
func (u *UDPUnderlay) Close() error { return u.conn.Close() }

// Serve reads datagrams into packet buffers (no copies, no allocations)
// and hands them to the backend until the socket is closed or ctx ends.
func (u *UDPUnderlay) Serve(ctx context.Context, b *Backend) error {
	w := b.cfg.Engine.NewWorker()
	p := dataplane.NewPacket(b.cfg.BufferSize)
	for {
		p.Reset()
		n, _, _, from, err := u.conn.ReadMsgUDPAddrPort(p.ReadBuffer(), nil)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("esp-in-udp read: %w", err)
		}
		p.SetLen(n)
		p.Local, p.Remote, p.Encap = u.local, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), true
		b.processInbound(w, p)
	}
}

// RawUnderlay is a raw IP socket for protocol 50 (ESP without UDP). The
// kernel builds and strips the outer IP header.
type RawUnderlay struct {
	conn  *net.IPConn
	local netip.Addr
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
	return &RawUnderlay{conn: c, local: local}, nil
}

// WriteESP implements Underlay; remote's port is ignored.
func (r *RawUnderlay) WriteESP(b []byte, remote netip.AddrPort) error {
	_, err := r.conn.WriteToIP(b, &net.IPAddr{IP: remote.Addr().AsSlice()})
	return err
}

// Close closes the socket, which ends Serve.
func (r *RawUnderlay) Close() error { return r.conn.Close() }

// Serve reads ESP packets and hands them to the backend until the socket is
// closed or ctx ends.
func (r *RawUnderlay) Serve(ctx context.Context, b *Backend) error {
	w := b.cfg.Engine.NewWorker()
	p := dataplane.NewPacket(b.cfg.BufferSize)
	for {
		p.Reset()
		n, from, err := r.conn.ReadFromIP(p.ReadBuffer())
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("raw esp read: %w", err)
		}
		addr, _ := netip.AddrFromSlice(from.IP)
		p.SetLen(n)
		p.Local, p.Remote, p.Encap = netip.AddrPortFrom(r.local, 0), netip.AddrPortFrom(addr.Unmap(), 0), false
		b.processInbound(w, p)
	}
}

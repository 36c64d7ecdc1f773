// Package transport carries IKE messages between the engine and the network:
// UDP sockets on ports 500 and 4500 for real use (with the RFC 3948 non-ESP
// marker, ESP-in-UDP demultiplexing and NAT keepalives), and an in-memory
// network with seeded loss, reordering, duplication and delay for tests.
package transport

import (
	"context"
	"net/netip"
)

// Packet is one IKE message and its addresses.
type Packet struct {
	// Local is the address and port the datagram arrived on, or is sent
	// from. Its port selects the socket: the NAT-T port (4500) adds the
	// non-ESP marker.
	Local netip.AddrPort
	// Remote is the peer's address and port.
	Remote netip.AddrPort
	// Data is the IKE message, starting with the IKE header; the non-ESP
	// marker is already removed on receive and is added on send.
	Data []byte
}

// Transport moves IKE messages. Implementations are safe for concurrent use.
type Transport interface {
	// Send transmits p.Data from p.Local to p.Remote. It does not retain
	// p.Data after returning. A zero p.Local lets the transport pick the
	// IKE port (500) socket of the right address family.
	Send(p Packet) error
	// Recv blocks until a message arrives, ctx is done, or the transport
	// is closed (net.ErrClosed). The returned Data is owned by the caller.
	Recv(ctx context.Context) (Packet, error)
	// Close releases the transport; blocked Recv calls return net.ErrClosed.
	Close() error
}

// KeepaliveSender is implemented by transports that can send NAT
// keepalives (RFC 3948 §2.3: a single 0xFF byte from the NAT-T port). The
// engine sends them for IKE SAs behind a NAT; receivers count and drop them.
type KeepaliveSender interface {
	SendKeepalive(local, remote netip.AddrPort) error
}

// Default ports (RFC 7296 §2, RFC 3948).
const (
	PortIKE  = 500
	PortNATT = 4500
)

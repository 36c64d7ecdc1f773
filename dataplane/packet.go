package dataplane

import (
	"net/netip"

	"github.com/esphub/esphub/dataplane/hdr"
)

// Buffer geometry. Headroom covers the largest encapsulation the engine
// builds in front of an inner packet: outer IPv6 (40) + UDP (8) + ESP (8) +
// CBC IV (16) + CMD (8) + GRE with key and sequence (12) + MPLS labels,
// rounded up. Tailroom covers ESP padding, trailer and ICV.
const (
	Headroom = 128
	Tailroom = 64
	// DefaultBufferSize fits a 1500-byte underlay packet with room to spare.
	DefaultBufferSize = 2048
)

// Verdict says what a backend does with a packet after a batch.
type Verdict uint8

// Verdicts.
const (
	// VerdictDrop: discard; Packet.Drop says why (already counted).
	VerdictDrop Verdict = iota
	// VerdictUnderlay: Data is a complete outer IP packet (ESP or
	// ESP-in-UDP) to send to Remote from Local.
	VerdictUnderlay
	// VerdictHost: Data is an inner IP packet for the host side (TUN or LAN)
	// in VRF.
	VerdictHost
	// VerdictPunt: Data is a control-plane payload for the daemon: the
	// payload of a GRE packet whose protocol is PuntProto (NHRP), from
	// Tunnel; or an IKE message (PuntProto 0) that arrived on UDP 4500.
	VerdictPunt
	// VerdictConsumed: the engine used the packet up (NAT keepalive, ESP
	// dummy packet); nothing to send.
	VerdictConsumed
)

func (v Verdict) String() string {
	switch v {
	case VerdictDrop:
		return "drop"
	case VerdictUnderlay:
		return "underlay"
	case VerdictHost:
		return "host"
	case VerdictPunt:
		return "punt"
	case VerdictConsumed:
		return "consumed"
	}
	return "verdict?"
}

// Packet is one packet buffer with headroom and tailroom, plus the metadata
// the engine and the backends exchange. Backends own Packets (typically from
// a pool, one buffer each) and hand them to a Worker; the Worker rewrites the
// data in place and sets the result fields. A Packet is used by one
// goroutine at a time.
type Packet struct {
	buf []byte
	off int
	n   int

	// VRF is the overlay VRF: set by the backend for outbound packets (the
	// ingress interface's VRF), set by the engine for VerdictHost.
	VRF uint32
	// Tunnel is the egress tunnel of an underlay packet, or the ingress
	// tunnel of a decapsulated one.
	Tunnel TunnelID
	// Local and Remote are the underlay addresses: for inbound packets the
	// backend sets them from the socket or outer header (ports when UDP),
	// for VerdictUnderlay the engine sets them from the tunnel.
	Local, Remote netip.AddrPort
	// Encap marks ESP in UDP (RFC 3948), inbound and outbound.
	Encap bool
	// SGT is the security group tag received with (or added to) the packet;
	// 0 when none.
	SGT uint16
	// PuntProto is the GRE protocol type of a VerdictPunt payload.
	PuntProto uint16
	// OuterECN holds the outer header's ECN bits plus one (0: unknown), set
	// by StripOuter, so decapsulation can propagate congestion marks into
	// the inner header (RFC 6040).
	OuterECN uint8

	Verdict Verdict
	Drop    DropReason
}

// NewPacket allocates a Packet with a buffer of size bytes (at least
// Headroom+Tailroom+1) and empty data at Headroom.
func NewPacket(size int) *Packet {
	if size < Headroom+Tailroom+1 {
		size = Headroom + Tailroom + 1
	}
	p := &Packet{buf: make([]byte, size)}
	p.Reset()
	return p
}

// Attach points p at an existing buffer (for example an AF_XDP UMEM frame)
// with data at buf[off:off+n], clearing the metadata. The engine then reads
// and rewrites buf in place; the caller keeps ownership and must not touch
// buf while p is being processed. It reports false when the data does not
// fit in buf.
func (p *Packet) Attach(buf []byte, off, n int) bool {
	if off < 0 || n < 0 || off+n > len(buf) {
		return false
	}
	*p = Packet{buf: buf, off: off, n: n}
	return true
}

// Buffer returns the whole buffer and the data's offset in it, for a
// backend that must report where the (possibly moved) data now starts, as
// an AF_XDP TX descriptor does.
func (p *Packet) Buffer() (buf []byte, off int) { return p.buf, p.off }

// Prepend grows the data n bytes to the front (for a link-layer header)
// and returns them; ok is false when the headroom is too small.
func (p *Packet) Prepend(n int) (b []byte, ok bool) { return p.prepend(n) }

// Pull drops n bytes from the front of the data (a link-layer header); it
// reports false when the data is shorter than n.
func (p *Packet) Pull(n int) bool {
	if n < 0 || n > p.n {
		return false
	}
	p.trimFront(n)
	return true
}

// Reset empties the data (at Headroom) and clears the metadata, keeping the
// buffer.
func (p *Packet) Reset() {
	buf := p.buf
	*p = Packet{buf: buf, off: Headroom}
}

// Data returns the packet bytes; it aliases the buffer.
func (p *Packet) Data() []byte { return p.buf[p.off : p.off+p.n] }

// Len returns the data length.
func (p *Packet) Len() int { return p.n }

// ReadBuffer returns the space after Headroom for a backend to read into,
// leaving Tailroom free; call SetLen with the byte count read.
func (p *Packet) ReadBuffer() []byte { return p.buf[Headroom : len(p.buf)-Tailroom] }

// SetLen sets the data to n bytes at Headroom (after a read into
// ReadBuffer).
func (p *Packet) SetLen(n int) {
	p.off = Headroom
	p.n = n
}

// SetData copies b into the buffer at Headroom. It reports false when b does
// not fit; it is for tests and control-plane injection, not the fast path.
func (p *Packet) SetData(b []byte) bool {
	if len(b) > len(p.buf)-Headroom-Tailroom {
		return false
	}
	p.off, p.n = Headroom, copy(p.buf[Headroom:], b)
	return true
}

// Wrap makes p a view of buf, memory the backend owns (an AF_XDP frame),
// with data buf[off:off+n], and clears the metadata. The engine then edits
// the packet in place inside buf: headers are written into buf[:off] and
// ESP trailers after the data, so buf should extend Headroom bytes before
// off and Tailroom bytes after the data. p aliases buf until the next Wrap
// (Reset keeps the wrapped buffer). Wrap does not allocate.
func (p *Packet) Wrap(buf []byte, off, n int) {
	*p = Packet{buf: buf, off: off, n: n}
}

// Offset returns where the data starts in the buffer: after Wrap and
// processing, the backend turns it back into a frame address.
func (p *Packet) Offset() int { return p.off }

// prepend grows the data n bytes to the front and returns the new front
// bytes; ok is false when the headroom is too small.
func (p *Packet) prepend(n int) (b []byte, ok bool) {
	if p.off < n {
		return nil, false
	}
	p.off -= n
	p.n += n
	return p.buf[p.off : p.off+n], true
}

// trimFront drops n bytes from the front.
func (p *Packet) trimFront(n int) {
	p.off += n
	p.n -= n
}

// tailroom returns the bytes available after the data.
func (p *Packet) tailroom() int { return len(p.buf) - p.off - p.n }

// setView makes the data the sub-slice [start, start+n) of the current data.
func (p *Packet) setView(start, n int) {
	p.off += start
	p.n = n
}

// ensureHeadroom makes at least n bytes of headroom by moving the data
// towards the end of the buffer when needed. It reports false when the
// buffer is too small. This copy only happens when a hairpinned packet
// needs more room than its inbound headers left.
func (p *Packet) ensureHeadroom(n, tail int) bool {
	if p.off >= n {
		return p.tailroom() >= tail
	}
	if n+p.n+tail > len(p.buf) {
		return false
	}
	copy(p.buf[n:n+p.n], p.buf[p.off:p.off+p.n])
	p.off = n
	return true
}

// StripOuter turns a packet whose data starts at an outer IPv4 or IPv6
// header into the form ProcessInbound takes: it sets Local, Remote and
// Encap from the IP (and UDP) header and advances the data to the ESP
// header or UDP payload. It reports false, changing nothing, unless the
// packet is a valid unfragmented IP packet carrying ESP, or UDP to or from
// port 4500. Backends that receive whole IP packets (AF_XDP after the
// Ethernet header, raw IPv4 sockets) call it; IPv6 extension headers are not
// walked.
func (p *Packet) StripOuter() bool {
	d := p.Data()
	var src, dst netip.Addr
	var proto, tos uint8
	var hl, total int
	switch hdr.IPVersion(d) {
	case 4:
		h := hdr.IPv4(d)
		if !h.Valid() || h.IsFragment() {
			return false
		}
		src, dst, proto, hl, total = h.Src(), h.Dst(), h.Protocol(), h.HeaderLen(), int(h.TotalLength())
		tos = h.TOS()
	case 6:
		h := hdr.IPv6(d)
		if !h.Valid() {
			return false
		}
		src, dst, proto, hl, total = h.Src(), h.Dst(), h.NextHeader(), hdr.IPv6Len, hdr.IPv6Len+int(h.PayloadLength())
		tos = h.TrafficClass()
	default:
		return false
	}
	switch proto {
	case hdr.ProtoESP:
		p.Local, p.Remote, p.Encap = netip.AddrPortFrom(dst, 0), netip.AddrPortFrom(src, 0), false
		p.OuterECN = tos&3 + 1
		p.setView(hl, total-hl)
		return true
	case hdr.ProtoUDP:
		u := hdr.UDP(d[hl:total])
		if !u.Valid() || (u.DstPort() != hdr.PortIKENATT && u.SrcPort() != hdr.PortIKENATT) {
			return false
		}
		p.Local, p.Remote, p.Encap = netip.AddrPortFrom(dst, u.DstPort()), netip.AddrPortFrom(src, u.SrcPort()), true
		p.OuterECN = tos&3 + 1
		p.setView(hl+hdr.UDPLen, int(u.Length())-hdr.UDPLen)
		return true
	}
	return false
}

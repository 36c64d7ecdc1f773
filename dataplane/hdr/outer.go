package hdr

import (
	"encoding/binary"
	"net/netip"
)

// Outer is a precomputed outer header for one tunnel: IPv4 or IPv6 from Src
// to Dst carrying ESP, optionally inside UDP (RFC 3948). Everything that is
// the same for every packet (version, TTL or hop limit, protocol,
// addresses, ports) is built once; Encode fills in the per-packet fields and
// updates the IPv4 checksum from a precomputed partial sum instead of
// summing the whole header again (RFC 1624). An Outer is immutable after
// NewOuter and safe for concurrent use.
type Outer struct {
	b   [IPv6Len + UDPLen]byte
	n   uint8 // header length: IP plus UDP
	v6  bool
	udp bool
	sum uint32 // IPv4: ones'-complement sum of the constant 16-bit words
}

// NewOuter builds the outer header from src to dst (both IPv4 or both
// IPv6) with the given TTL; with udp it carries ESP in UDP from port sport
// to dport, otherwise ESP directly.
func NewOuter(src, dst netip.Addr, ttl uint8, udp bool, sport, dport uint16) Outer {
	o := Outer{v6: !src.Is4(), udp: udp}
	proto := ProtoESP
	if udp {
		proto = ProtoUDP
	}
	ipLen := IPv4MinLen
	if o.v6 {
		ipLen = IPv6Len
		EncodeIPv6(o.b[:], 0, 0, proto, ttl, src, dst)
	} else {
		EncodeIPv4(o.b[:], 0, 0, 0, ttl, proto, src, dst)
		o.b[10], o.b[11] = 0, 0
		for i := 0; i < IPv4MinLen; i += 2 {
			o.sum += uint32(binary.BigEndian.Uint16(o.b[i:]))
		}
	}
	if udp {
		EncodeUDP(o.b[ipLen:], sport, dport, 0)
		ipLen += UDPLen
	}
	o.n = uint8(ipLen)
	return o
}

// Len returns the header length: 20 or 40, plus 8 with UDP.
func (o *Outer) Len() int { return int(o.n) }

// Encode writes the header into b (exactly Len bytes, in front of an ESP
// packet of espLen bytes) with the given TOS / traffic class and, for IPv4,
// identification. The UDP checksum is zero, as RFC 3948 allows.
func (o *Outer) Encode(b []byte, tos uint8, id uint16, espLen int) {
	n := int(o.n)
	b = b[:n]
	// Constant-length copies compile to a few moves instead of a memmove
	// call.
	switch n {
	case IPv4MinLen:
		copy(b[:IPv4MinLen], o.b[:IPv4MinLen])
	case IPv4MinLen + UDPLen:
		copy(b[:IPv4MinLen+UDPLen], o.b[:IPv4MinLen+UDPLen])
	case IPv6Len:
		copy(b[:IPv6Len], o.b[:IPv6Len])
	default:
		copy(b[:IPv6Len+UDPLen], o.b[:IPv6Len+UDPLen])
	}
	total := n + espLen
	if o.udp {
		binary.BigEndian.PutUint16(b[n-UDPLen+4:], uint16(espLen+UDPLen))
	}
	if o.v6 {
		b[0] = 0x60 | tos>>4
		b[1] = tos << 4
		binary.BigEndian.PutUint16(b[4:6], uint16(total-IPv6Len))
		return
	}
	b[1] = tos
	binary.BigEndian.PutUint16(b[2:4], uint16(total))
	binary.BigEndian.PutUint16(b[4:6], id)
	sum := o.sum + uint32(tos) + uint32(uint16(total)) + uint32(id)
	sum = sum>>16 + sum&0xffff
	sum += sum >> 16
	binary.BigEndian.PutUint16(b[10:12], ^uint16(sum))
}

package hdr

import (
	"encoding/binary"
	"net/netip"
)

// IPv6Len is the size of the IPv6 fixed header.
const IPv6Len = 40

// IPv6 is a view of the IPv6 fixed header (RFC 8200):
//
//	|Version| Traffic Class |           Flow Label                  |
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	|                   Source Address (128)                        |
//	|                Destination Address (128)                      |
type IPv6 []byte

// Valid reports whether b holds version 6 and the payload length fits in b.
func (b IPv6) Valid() bool {
	return len(b) >= IPv6Len && b[0]>>4 == 6 && IPv6Len+int(binary.BigEndian.Uint16(b[4:6])) <= len(b)
}

// TrafficClass returns the traffic class byte.
func (b IPv6) TrafficClass() uint8 { return b[0]<<4 | b[1]>>4 }

// PayloadLength returns the payload length field.
func (b IPv6) PayloadLength() uint16 { return binary.BigEndian.Uint16(b[4:6]) }

// NextHeader returns the next header field.
func (b IPv6) NextHeader() uint8 { return b[6] }

// HopLimit returns the hop limit.
func (b IPv6) HopLimit() uint8 { return b[7] }

// Src returns the source address.
func (b IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(b[8:24])) }

// Dst returns the destination address.
func (b IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(b[24:40])) }

// Payload returns the payload; it aliases b.
func (b IPv6) Payload() []byte { return b[IPv6Len : IPv6Len+int(b.PayloadLength())] }

// SetPayloadLength sets the payload length field.
func (b IPv6) SetPayloadLength(n uint16) { binary.BigEndian.PutUint16(b[4:6], n) }

// SetNextHeader sets the next header field.
func (b IPv6) SetNextHeader(p uint8) { b[6] = p }

// SetHopLimit sets the hop limit.
func (b IPv6) SetHopLimit(h uint8) { b[7] = h }

// EncodeIPv6 writes a 40-byte IPv6 header into b[:40]. src and dst must be
// IPv6 addresses (4in6-mapped addresses are written as they are).
func EncodeIPv6(b []byte, tc uint8, payloadLen uint16, next, hopLimit uint8, src, dst netip.Addr) {
	b[0] = 0x60 | tc>>4
	b[1] = tc << 4
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:6], payloadLen)
	b[6] = next
	b[7] = hopLimit
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}

// IPVersion returns the IP version nibble of the first byte of b, or 0 when b
// is empty.
func IPVersion(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(b[0] >> 4)
}

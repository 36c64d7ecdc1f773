package hdr

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers the dataplane recognises.
const (
	ProtoIPv4IP   uint8 = 4   // IP-in-IP: ESP tunnel mode next header for IPv4
	ProtoTCP      uint8 = 6   //
	ProtoUDP      uint8 = 17  //
	ProtoIPv6     uint8 = 41  // ESP tunnel mode next header for IPv6
	ProtoGRE      uint8 = 47  //
	ProtoESP      uint8 = 50  //
	ProtoICMPv6   uint8 = 58  //
	ProtoNoNext   uint8 = 59  // IPv6 no next header (ESP dummy packets)
	ProtoCMD      uint8 = 99  // "any private encryption scheme": Cisco SGT inline in ESP (assumed)
	ProtoMPLSInIP uint8 = 137 //
)

// IPv4MinLen is the size of an IPv4 header without options.
const IPv4MinLen = 20

// IPv4 is a view of an IPv4 header (RFC 791):
//
//	 0                   1                   2                   3
//	|Version|  IHL  |Type of Service|          Total Length         |
//	|         Identification        |Flags|      Fragment Offset    |
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	|                       Source Address                          |
//	|                    Destination Address                        |
//	|                    Options (IHL > 5)                          |
type IPv4 []byte

// Valid reports whether b holds a well-formed IPv4 header: version 4, IHL at
// least 5, header and total length within b. It does not verify the checksum.
func (b IPv4) Valid() bool {
	if len(b) < IPv4MinLen || b[0]>>4 != 4 {
		return false
	}
	hl := int(b[0]&0xf) * 4
	tl := int(binary.BigEndian.Uint16(b[2:4]))
	return hl >= IPv4MinLen && tl >= hl && tl <= len(b)
}

// HeaderLen returns IHL in bytes.
func (b IPv4) HeaderLen() int { return int(b[0]&0xf) * 4 }

// TOS returns the type-of-service (DSCP|ECN) byte.
func (b IPv4) TOS() uint8 { return b[1] }

// TotalLength returns the total length field.
func (b IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(b[2:4]) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[4:6]) }

// FlagsFragOff returns the flags and fragment offset word.
func (b IPv4) FlagsFragOff() uint16 { return binary.BigEndian.Uint16(b[6:8]) }

// IsFragment reports whether MF is set or the fragment offset is non-zero.
func (b IPv4) IsFragment() bool { return b.FlagsFragOff()&0x3fff != 0 }

// TTL returns the time-to-live.
func (b IPv4) TTL() uint8 { return b[8] }

// Protocol returns the protocol field.
func (b IPv4) Protocol() uint8 { return b[9] }

// HeaderChecksum returns the checksum field.
func (b IPv4) HeaderChecksum() uint16 { return binary.BigEndian.Uint16(b[10:12]) }

// Src returns the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[12:16])) }

// Dst returns the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[16:20])) }

// Payload returns the bytes between the header and TotalLength; it aliases b.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():b.TotalLength()] }

// ChecksumValid reports whether the header checksum verifies.
func (b IPv4) ChecksumValid() bool { return Checksum(b[:b.HeaderLen()], 0) == 0xffff }

// SetTotalLength sets the total length field.
func (b IPv4) SetTotalLength(n uint16) { binary.BigEndian.PutUint16(b[2:4], n) }

// SetTTL sets the time-to-live.
func (b IPv4) SetTTL(t uint8) { b[8] = t }

// SetProtocol sets the protocol field.
func (b IPv4) SetProtocol(p uint8) { b[9] = p }

// UpdateChecksum recomputes the header checksum.
func (b IPv4) UpdateChecksum() {
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:12], ^Checksum(b[:b.HeaderLen()], 0))
}

// EncodeIPv4 writes a 20-byte IPv4 header with the given fields into b[:20]
// (DF clear, no options) and computes its checksum. b must be at least 20
// bytes; src and dst must be IPv4 addresses.
func EncodeIPv4(b []byte, tos uint8, totalLen, id uint16, ttl, proto uint8, src, dst netip.Addr) {
	b[0] = 0x45
	b[1] = tos
	binary.BigEndian.PutUint16(b[2:4], totalLen)
	binary.BigEndian.PutUint16(b[4:6], id)
	b[6], b[7] = 0, 0
	b[8] = ttl
	b[9] = proto
	b[10], b[11] = 0, 0
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], ^Checksum(b[:20], 0))
}

// PseudoHeaderSum returns the partial checksum of the IPv4 or IPv6
// pseudo-header for an upper-layer packet of length n and protocol proto.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, n int) uint32 {
	var sum uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum += uint32(binary.BigEndian.Uint16(s[0:])) + uint32(binary.BigEndian.Uint16(s[2:]))
		sum += uint32(binary.BigEndian.Uint16(d[0:])) + uint32(binary.BigEndian.Uint16(d[2:]))
	} else {
		s, d := src.As16(), dst.As16()
		for i := 0; i < 16; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(s[i:])) + uint32(binary.BigEndian.Uint16(d[i:]))
		}
	}
	return sum + uint32(proto) + uint32(n)
}

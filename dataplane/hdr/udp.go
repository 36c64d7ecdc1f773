package hdr

import "encoding/binary"

// UDPLen is the size of a UDP header.
const UDPLen = 8

// Well-known ports.
const (
	PortIKE     uint16 = 500
	PortIKENATT uint16 = 4500
)

// UDP is a view of a UDP header (RFC 768):
//
//	|          Source Port          |       Destination Port        |
//	|            Length             |           Checksum            |
type UDP []byte

// Valid reports whether b holds a header whose length field is at least 8
// and fits in b.
func (b UDP) Valid() bool {
	if len(b) < UDPLen {
		return false
	}
	l := int(binary.BigEndian.Uint16(b[4:6]))
	return l >= UDPLen && l <= len(b)
}

// SrcPort returns the source port.
func (b UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[0:2]) }

// DstPort returns the destination port.
func (b UDP) DstPort() uint16 { return binary.BigEndian.Uint16(b[2:4]) }

// Length returns the length field (header plus payload).
func (b UDP) Length() uint16 { return binary.BigEndian.Uint16(b[4:6]) }

// Checksum returns the checksum field (0 = none, as RFC 3948 sends).
func (b UDP) Checksum() uint16 { return binary.BigEndian.Uint16(b[6:8]) }

// Payload returns the bytes after the header up to Length; it aliases b.
func (b UDP) Payload() []byte { return b[UDPLen:b.Length()] }

// SetChecksum sets the checksum field.
func (b UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[6:8], c) }

// EncodeUDP writes a UDP header with a zero checksum into b[:8].
func EncodeUDP(b []byte, src, dst, length uint16) {
	binary.BigEndian.PutUint16(b[0:2], src)
	binary.BigEndian.PutUint16(b[2:4], dst)
	binary.BigEndian.PutUint16(b[4:6], length)
	b[6], b[7] = 0, 0
}

// IsNATKeepalive reports whether a UDP/4500 payload is an RFC 3948 NAT
// keepalive: exactly one byte, 0xFF.
func IsNATKeepalive(payload []byte) bool { return len(payload) == 1 && payload[0] == 0xff }

// IsNonESPMarker reports whether a UDP/4500 payload starts with the four zero
// bytes that mark IKE rather than ESP (RFC 3948 §2.2).
func IsNonESPMarker(payload []byte) bool {
	return len(payload) >= 4 && payload[0]|payload[1]|payload[2]|payload[3] == 0
}

package hdr

import "encoding/binary"

// Checksum returns the RFC 1071 ones'-complement sum of b folded to 16 bits,
// added to initial (a partial sum from a pseudo-header, or 0). The result is
// not complemented; use ^Checksum(...) for the field value.
func Checksum(b []byte, initial uint32) uint16 {
	sum := uint64(initial)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v >> 32
		sum += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum > 0xffff {
		sum = (sum >> 16) + (sum & 0xffff)
	}
	return uint16(sum)
}

package suite

import (
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
)

// NATDetectionHash returns the 20-byte data of a NAT_DETECTION_SOURCE_IP or
// NAT_DETECTION_DESTINATION_IP notification (RFC 7296 §2.23):
// SHA-1(SPIi | SPIr | IP | Port). An IPv4-mapped IPv6 address hashes as IPv4,
// because that is the address family on the wire. In IKE_SA_INIT requests
// spir is zero.
func NATDetectionHash(spii, spir uint64, addr netip.AddrPort) []byte {
	var buf [16 + 16 + 2]byte
	binary.BigEndian.PutUint64(buf[0:], spii)
	binary.BigEndian.PutUint64(buf[8:], spir)
	n := 16
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		a := ip.As4()
		n += copy(buf[n:], a[:])
	} else {
		a := ip.As16()
		n += copy(buf[n:], a[:])
	}
	binary.BigEndian.PutUint16(buf[n:], addr.Port())
	n += 2
	sum := sha1.Sum(buf[:n])
	return sum[:]
}

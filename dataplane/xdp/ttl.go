package xdp

import "github.com/esphub/esphub/dataplane/hdr"

// decTTL decrements the IPv4 TTL (updating the header checksum
// incrementally, RFC 1624) or the IPv6 hop limit of a packet the backend
// routes, and reports false when it has expired. Malformed packets pass
// unchanged for the engine to judge.
func decTTL(d []byte) bool {
	switch hdr.IPVersion(d) {
	case 4:
		if len(d) < hdr.IPv4MinLen {
			return true
		}
		if d[8] <= 1 {
			return false
		}
		d[8]--
		// The TTL is the high byte of its 16-bit word: the sum drops by
		// 0x0100, so the checksum rises by 0x0100 (end-around carry).
		sum := uint32(d[10])<<8 | uint32(d[11])
		sum += 0x0100
		sum = (sum & 0xffff) + sum>>16
		d[10], d[11] = byte(sum>>8), byte(sum)
	case 6:
		if len(d) < hdr.IPv6Len {
			return true
		}
		if d[7] <= 1 {
			return false
		}
		d[7]--
	}
	return true
}

// incTTL undoes decTTL: it increments the IPv4 TTL (updating the checksum
// incrementally) or the IPv6 hop limit, saturating at 255. Malformed
// packets pass unchanged.
func incTTL(d []byte) {
	switch hdr.IPVersion(d) {
	case 4:
		if len(d) < hdr.IPv4MinLen || d[8] == 255 {
			return
		}
		d[8]++
		// The sum rises by 0x0100, so the checksum drops by it: add its
		// ones' complement, 0xfeff, with end-around carry.
		sum := uint32(d[10])<<8 | uint32(d[11])
		sum += 0xfeff
		sum = (sum & 0xffff) + sum>>16
		d[10], d[11] = byte(sum>>8), byte(sum)
	case 6:
		if len(d) < hdr.IPv6Len || d[7] == 255 {
			return
		}
		d[7]++
	}
}

package bpf

import (
	"encoding/binary"
	"net/netip"
)

// Frame builders for golden and generated test frames. They write correct
// lengths and IPv4 checksums so that the frames are also valid on a wire.

var (
	macA = []byte{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}
	macB = []byte{0x02, 0x00, 0x5e, 0x00, 0x53, 0x02}

	v4A = netip.MustParseAddr("198.18.0.1")
	v4B = netip.MustParseAddr("198.18.0.2")
	v6A = netip.MustParseAddr("2001:db8::1")
	v6B = netip.MustParseAddr("2001:db8::2")
)

func eth(etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, 14+len(payload)+46)
	b = append(b, macB...)
	b = append(b, macA...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	b = append(b, payload...)
	// Ethernet minimum frame (without FCS) is 60 bytes; pad with zeros
	// as a NIC would.
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

type v4opts struct {
	fragOff uint16 // flags+offset field
	options []byte // IP options (multiple of 4)
}

func ipv4(src, dst netip.Addr, proto byte, l4 []byte, o v4opts) []byte {
	hl := 20 + len(o.options)
	h := make([]byte, hl, hl+len(l4))
	h[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(l4)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	binary.BigEndian.PutUint16(h[6:], o.fragOff)
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	copy(h[20:], o.options)
	binary.BigEndian.PutUint16(h[10:], ipChecksum(h))
	return append(h, l4...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ipv6 builds an IPv6 header; exts are (next header, body) extension headers
// whose bodies are padded to a multiple of 8 bytes including the 2-byte header.
func ipv6(src, dst netip.Addr, nh byte, exts []ext6, l4 []byte) []byte {
	var chain []byte
	first := nh
	if len(exts) > 0 {
		first = exts[0].typ
	}
	for i, e := range exts {
		next := nh
		if i+1 < len(exts) {
			next = exts[i+1].typ
		}
		body := e.body
		if e.typ == protoFragment {
			// Fragment header: fixed 8 bytes, second byte reserved.
			hdr := make([]byte, 8)
			hdr[0] = next
			copy(hdr[2:], body)
			chain = append(chain, hdr...)
			continue
		}
		n := (2 + len(body) + 7) / 8 * 8
		hdr := make([]byte, n)
		hdr[0] = next
		hdr[1] = byte(n/8 - 1)
		copy(hdr[2:], body)
		chain = append(chain, hdr...)
	}
	h := make([]byte, 40, 40+len(chain)+len(l4))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(chain)+len(l4)))
	h[6] = first
	h[7] = 64
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	h = append(h, chain...)
	return append(h, l4...)
}

type ext6 struct {
	typ  byte
	body []byte
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func esp(spi, seq uint32, body int) []byte {
	b := make([]byte, 8+body)
	binary.BigEndian.PutUint32(b[0:], spi)
	binary.BigEndian.PutUint32(b[4:], seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

type golden struct {
	name  string
	frame []byte
	want  Verdict
}

// wanGolden are the WAN program's golden frames with the IANA ports.
func wanGolden() []golden {
	// Non-ESP marker + an IKE_SA_INIT header (RFC 7296 §3.1): initiator
	// SPI, zero responder SPI, next payload SA, version 2.0, exchange 34,
	// flags Initiator, message ID 0, length 28.
	ike := []byte{0, 0, 0, 0,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0,
		33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 28}
	keepalive := []byte{0xff}
	return []golden{
		{"esp4", eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(0x1000, 1, 64), v4opts{})), ESP},
		{"esp4 options", eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(0x1000, 1, 64), v4opts{options: []byte{1, 1, 1, 0}})), ESP},
		{"esp4 truncated", eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(0x1000, 1, 0), v4opts{}))[:14+20+6], PassMalformed},
		{"esp4 in udp", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4500, esp(0x2000, 7, 100)), v4opts{})), ESPInUDP},
		{"ike4 nat-t", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4500, ike), v4opts{})), PassIKE},
		{"ike4 500", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(500, 500, ike[4:]), v4opts{})), PassIKE},
		{"keepalive4 padded", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4500, keepalive), v4opts{})), PassKeepalive},
		{"nat-t 2 bytes", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4500, []byte{1, 2}), v4opts{})), PassMalformed},
		{"nat-t empty", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4500, nil), v4opts{})), PassMalformed},
		{"udp dns", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(33000, 53, make([]byte, 30)), v4opts{})), PassOther},
		{"esp-like udp source 4500", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4501, esp(1, 1, 8)), v4opts{})), PassOther},
		{"tcp", eth(etherTypeIPv4, ipv4(v4A, v4B, 6, make([]byte, 20), v4opts{})), PassOther},
		{"arp", eth(0x0806, make([]byte, 28)), PassOther},
		{"esp4 first fragment", eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(1, 1, 64), v4opts{fragOff: 0x2000})), PassFragment},
		{"esp4 later fragment", eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(1, 1, 64), v4opts{fragOff: 0x0010})), PassFragment},
		{"udp4 DF set", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(4500, 4500, esp(1, 1, 8)), v4opts{fragOff: 0x4000})), ESPInUDP},
		{"ipv4 ihl 4", func() []byte {
			f := eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(1, 1, 8), v4opts{}))
			f[14] = 0x44
			return f
		}(), PassMalformed},
		{"ipv4 version 6 in v4 ethertype", func() []byte {
			f := eth(etherTypeIPv4, ipv4(v4A, v4B, protoESP, esp(1, 1, 8), v4opts{}))
			f[14] = 0x65
			return f
		}(), PassMalformed},
		{"short frame", eth(etherTypeIPv4, nil)[:14], PassMalformed},
		{"esp6", eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP, nil, esp(0x3000, 1, 64))), ESP},
		{"esp6 in udp", eth(etherTypeIPv6, ipv6(v6A, v6B, protoUDP, nil, udp(4500, 4500, esp(0x3000, 2, 64)))), ESPInUDP},
		{"ike6", eth(etherTypeIPv6, ipv6(v6A, v6B, protoUDP, nil, udp(500, 500, ike[4:]))), PassIKE},
		{"ike6 nat-t", eth(etherTypeIPv6, ipv6(v6A, v6B, protoUDP, nil, udp(4500, 4500, ike))), PassIKE},
		{"keepalive6", eth(etherTypeIPv6, ipv6(v6A, v6B, protoUDP, nil, udp(4500, 4500, keepalive))), PassKeepalive},
		{"esp6 after hop-by-hop and dstopts", eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP,
			[]ext6{{protoHopOpts, make([]byte, 6)}, {protoDstOpts, make([]byte, 14)}}, esp(1, 1, 32))), ESP},
		{"esp6 fragment", eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP, []ext6{{protoFragment, []byte{0, 1, 0, 0, 0, 9}}}, esp(1, 1, 32))), PassFragment},
		{"esp6 fragment after routing", eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP,
			[]ext6{{protoRouting, make([]byte, 6)}, {protoFragment, nil}}, esp(1, 1, 32))), PassFragment},
		{"esp6 five ext headers", eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP, []ext6{
			{protoDstOpts, nil}, {protoDstOpts, nil}, {protoDstOpts, nil}, {protoDstOpts, nil}, {protoDstOpts, nil}}, esp(1, 1, 32))), PassOther},
		{"esp6 ext header past end", func() []byte {
			f := eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP, []ext6{{protoDstOpts, nil}}, esp(1, 1, 8)))
			f[14+40+1] = 200 // extension length beyond the frame
			return f
		}(), PassMalformed},
		{"ipv6 truncated", eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP, nil, nil))[:14+39], PassMalformed},
		{"ipv6 bad version", func() []byte {
			f := eth(etherTypeIPv6, ipv6(v6A, v6B, protoESP, nil, esp(1, 1, 8)))
			f[14] = 0x40
			return f
		}(), PassMalformed},
		{"icmpv6", eth(etherTypeIPv6, ipv6(v6A, v6B, 58, nil, make([]byte, 24))), PassOther},
	}
}

package hdr

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestOuterOracle checks the template against the plain encoders (the
// oracle) over random fields, both families, with and without UDP.
func TestOuterOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addrs := [][2]netip.Addr{
		{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.19.255.254")},
		{netip.MustParseAddr("198.18.255.255"), netip.MustParseAddr("198.18.255.255")},
		{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:ffff::2")},
	}
	for _, a := range addrs {
		for _, udp := range []bool{false, true} {
			for i := 0; i < 2000; i++ {
				ttl, tos, id := uint8(r.Uint32()), uint8(r.Uint32()), uint16(r.Uint32())
				espLen := r.IntN(0xffff - 48)
				if i < 3 {
					tos, id, espLen = 0xff, 0xffff, 0xffff-48 // carries in the checksum
				}
				sport, dport := uint16(r.Uint32()), uint16(r.Uint32())
				o := NewOuter(a[0], a[1], ttl, udp, sport, dport)
				got := make([]byte, o.Len())
				o.Encode(got, tos, id, espLen)

				want := make([]byte, 48)
				ipLen, proto := IPv4MinLen, ProtoESP
				if udp {
					proto = ProtoUDP
				}
				if a[0].Is6() {
					ipLen = IPv6Len
				}
				n := ipLen
				if udp {
					EncodeUDP(want[ipLen:], sport, dport, uint16(espLen+UDPLen))
					n += UDPLen
				}
				if a[0].Is4() {
					EncodeIPv4(want, tos, uint16(n+espLen), id, ttl, proto, a[0], a[1])
				} else {
					EncodeIPv6(want, tos, uint16(n-IPv6Len+espLen), proto, ttl, a[0], a[1])
				}
				if !bytes.Equal(got, want[:n]) {
					t.Fatalf("%v udp=%v ttl=%d tos=%d id=%d len=%d:\n got % x\nwant % x", a, udp, ttl, tos, id, espLen, got, want[:n])
				}
				if a[0].Is4() && !IPv4(got).ChecksumValid() {
					t.Fatalf("checksum does not verify: % x", got)
				}
			}
		}
	}
}

func TestOuterAllocs(t *testing.T) {
	o := NewOuter(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 64, true, 4500, 4500)
	b := make([]byte, o.Len())
	if n := testing.AllocsPerRun(100, func() { o.Encode(b, 0, 1, 100) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkOuter(b *testing.B) {
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	buf := make([]byte, IPv4MinLen)
	b.Run("template", func(b *testing.B) {
		o := NewOuter(src, dst, 64, false, 0, 0)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			o.Encode(buf, 0, uint16(i), 100)
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			EncodeIPv4(buf, 0, 120, uint16(i), 64, ProtoESP, src, dst)
		}
	})
}

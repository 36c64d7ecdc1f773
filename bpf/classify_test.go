package bpf

import (
	"net/netip"
	"testing"
)

func TestClassifyWANGolden(t *testing.T) {
	for _, g := range wanGolden() {
		if got := ClassifyWAN(g.frame, DefaultPorts); got != g.want {
			t.Errorf("%s: got %v, want %v", g.name, got, g.want)
		}
	}
}

func TestClassifyWANCustomPorts(t *testing.T) {
	ports := Ports{IKE: 1500, NATT: 14500}
	cases := []golden{
		{"esp in udp custom", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 14500, esp(9, 9, 16)), v4opts{})), ESPInUDP},
		{"ike custom", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 1500, make([]byte, 28)), v4opts{})), PassIKE},
		{"4500 not special", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 4500, esp(9, 9, 16)), v4opts{})), PassOther},
		{"500 not special", eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 500, make([]byte, 28)), v4opts{})), PassOther},
	}
	for _, g := range cases {
		if got := ClassifyWAN(g.frame, ports); got != g.want {
			t.Errorf("%s: got %v, want %v", g.name, got, g.want)
		}
	}
}

func lanPrefixes() []ProtectedPrefix {
	return []ProtectedPrefix{
		{0, netip.MustParsePrefix("198.19.0.0/16")},
		{0, netip.MustParsePrefix("198.18.128.0/24")},
		{7, netip.MustParsePrefix("198.19.5.0/24")},
		{7, netip.MustParsePrefix("198.18.7.7/32")},
		{0, netip.MustParsePrefix("2001:db8:100::/48")},
		{7, netip.MustParsePrefix("2001:db8:700::/64")},
		{7, netip.MustParsePrefix("2001:db8:7::1/128")},
	}
}

// lanTables are the golden LAN prefix sets: lanPrefixes protected (plus
// default routes in VRF 3), and some of the router's own addresses local.
func lanTables() *LANTables {
	return &LANTables{
		Protected: append(lanPrefixes(),
			ProtectedPrefix{3, netip.MustParsePrefix("0.0.0.0/0")},
			ProtectedPrefix{3, netip.MustParsePrefix("::/0")}),
		Local: []ProtectedPrefix{
			{0, netip.MustParsePrefix("198.19.0.1/32")},
			{3, netip.MustParsePrefix("198.18.3.1/32")},
			{3, netip.MustParsePrefix("2001:db8:3::1/128")},
		},
	}
}

func lanGolden() []struct {
	golden
	vrf uint32
} {
	v4 := func(dst string) []byte {
		return eth(etherTypeIPv4, ipv4(v4A, netip.MustParseAddr(dst), 1, make([]byte, 16), v4opts{}))
	}
	v6 := func(dst string) []byte {
		return eth(etherTypeIPv6, ipv6(v6A, netip.MustParseAddr(dst), 58, nil, make([]byte, 16)))
	}
	type c = struct {
		golden
		vrf uint32
	}
	return []c{
		{golden{"v4 in vrf0 /16", v4("198.19.200.1"), Protected}, 0},
		{golden{"v4 in vrf0 /24", v4("198.18.128.255"), Protected}, 0},
		{golden{"v4 outside", v4("198.18.129.1"), PassUnprotected}, 0},
		{golden{"v4 vrf7 prefix from vrf0", v4("198.18.7.7"), PassUnprotected}, 0},
		{golden{"v4 vrf7 host", v4("198.18.7.7"), Protected}, 7},
		{golden{"v4 vrf7 /24", v4("198.19.5.9"), Protected}, 7},
		{golden{"v4 vrf0 prefix from vrf7", v4("198.19.6.1"), PassUnprotected}, 7},
		{golden{"v6 vrf0", v6("2001:db8:100:ffff::1"), Protected}, 0},
		{golden{"v6 outside", v6("2001:db8:101::1"), PassUnprotected}, 0},
		{golden{"v6 vrf7 /64", v6("2001:db8:700::abcd"), Protected}, 7},
		{golden{"v6 vrf7 /128 miss", v6("2001:db8:7::2"), PassUnprotected}, 7},
		{golden{"v6 vrf7 /128", v6("2001:db8:7::1"), Protected}, 7},
		{golden{"arp", eth(0x0806, make([]byte, 28)), PassOther}, 0},
		{golden{"v4 router itself inside protected", v4("198.19.0.1"), PassLocal}, 0},
		{golden{"v4 default route", v4("203.0.113.9"), Protected}, 3},
		{golden{"v4 router under default route", v4("198.18.3.1"), PassLocal}, 3},
		{golden{"v4 multicast under default route", v4("224.0.0.5"), PassLocal}, 3},
		{golden{"v4 broadcast under default route", v4("255.255.255.255"), PassLocal}, 3},
		{golden{"v6 default route", v6("2001:db8:99::1"), Protected}, 3},
		{golden{"v6 router under default route", v6("2001:db8:3::1"), PassLocal}, 3},
		{golden{"v6 multicast under default route", v6("ff02::1:ff00:1"), PassLocal}, 3},
		{golden{"v6 link-local under default route", v6("fe80::1"), PassLocal}, 3},
		{golden{"v6 fec0:: is not link-local", v6("fec0::1"), Protected}, 3},
		{golden{"v4 truncated", v4("198.19.0.1")[:14+19], PassMalformed}, 0},
		{golden{"v6 truncated", v6("2001:db8:100::1")[:14+39], PassMalformed}, 0},
		{golden{"v4 bad ihl", func() []byte { f := v4("198.19.0.1"); f[14] = 0x43; return f }(), PassMalformed}, 0},
	}
}

func TestClassifyLANGolden(t *testing.T) {
	for _, g := range lanGolden() {
		if got := ClassifyLAN(g.frame, g.vrf, lanTables()); got != g.want {
			t.Errorf("%s (vrf %d): got %v, want %v", g.name, g.vrf, got, g.want)
		}
	}
}

func TestClassifyNoAllocs(t *testing.T) {
	frames := wanGolden()
	tables := lanTables()
	n := testing.AllocsPerRun(100, func() {
		for _, g := range frames {
			ClassifyWAN(g.frame, DefaultPorts)
			ClassifyLAN(g.frame, 3, tables)
		}
	})
	if n != 0 {
		t.Fatalf("classifiers allocate %v times per run", n)
	}
}

func TestVerdictString(t *testing.T) {
	for v := range Verdict(numCounters) {
		if s := v.String(); s == "" || s[0] == 'v' {
			t.Errorf("verdict %d has no name", uint32(v))
		}
	}
	if Verdict(99).String() != "verdict(99)" {
		t.Errorf("unknown verdict: %q", Verdict(99).String())
	}
}

// FuzzClassifyWAN checks that the classifier never panics and that a
// verdict other than PassMalformed depends only on the headers: appending
// bytes to the frame (more payload, or Ethernet padding) cannot change it.
func FuzzClassifyWAN(f *testing.F) {
	for _, g := range wanGolden() {
		f.Add(g.frame, uint16(500), uint16(4500))
	}
	f.Fuzz(func(t *testing.T, frame []byte, ike, natt uint16) {
		if ike == natt {
			return
		}
		ports := Ports{IKE: ike, NATT: natt}
		v := ClassifyWAN(frame, ports)
		if v >= NoSocket {
			t.Fatalf("impossible verdict %v", v)
		}
		if v == PassMalformed {
			return
		}
		longer := append(append([]byte(nil), frame...), 0xff, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
		if w := ClassifyWAN(longer, ports); w != v {
			t.Fatalf("verdict changed from %v to %v by appending bytes", v, w)
		}
	})
}

// FuzzClassifyLAN checks the LAN classifier never panics and is stable
// under appended bytes.
func FuzzClassifyLAN(f *testing.F) {
	for _, g := range lanGolden() {
		f.Add(g.frame, g.vrf)
	}
	tables := lanTables()
	f.Fuzz(func(t *testing.T, frame []byte, vrf uint32) {
		v := ClassifyLAN(frame, vrf, tables)
		if v == PassMalformed {
			return
		}
		longer := append(append([]byte(nil), frame...), make([]byte, 40)...)
		if w := ClassifyLAN(longer, vrf, tables); w != v {
			t.Fatalf("verdict changed from %v to %v by appending bytes", v, w)
		}
	})
}

package transport

import (
	"net/netip"
	"testing"
)

// TestPktinfoRoundTrip: the control data we build for sending parses back
// (the kernel uses the same layout on receive).
func TestPktinfoRoundTrip(t *testing.T) {
	for _, s := range []string{"198.18.0.1", "2001:db8::7"} {
		a := netip.MustParseAddr(s)
		oob := pktinfoSrc(a)
		got, ok := pktinfoDst(oob)
		// On send the IPv4 address travels in Spec_dst; pktinfoDst reads
		// Addr, which is zero here. IPv6 has a single field.
		if a.Is6() && (!ok || got != a) {
			t.Errorf("%v: parsed %v, %v", a, got, ok)
		}
		if a.Is4() && (!ok || got != netip.AddrFrom4([4]byte{})) {
			t.Errorf("%v: parsed %v, %v", a, got, ok)
		}
	}
}

// FuzzPktinfoDst: arbitrary control data never panics.
func FuzzPktinfoDst(f *testing.F) {
	f.Add(pktinfoSrc(netip.MustParseAddr("198.18.0.1")))
	f.Add(pktinfoSrc(netip.MustParseAddr("2001:db8::1")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, oob []byte) {
		_, _ = pktinfoDst(oob)
	})
}

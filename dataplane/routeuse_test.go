package dataplane

import (
	"net/netip"
	"testing"
)

// TestRouteUsed: the use mark is per route (per prefix), set by packets
// that take the route, read and cleared by RouteUsed, and kept when the
// route's next hop is replaced.
func TestRouteUsed(t *testing.T) {
	pr := newPair(t, pairSpec{mode: ModeGRE, suite: suites[0]})
	lan4 := netip.MustParsePrefix("198.18.20.0/24")
	lan6 := netip.MustParsePrefix("2001:db8:20::/48")
	for _, p := range []netip.Prefix{lan4, lan6} {
		if used, ok := pr.a.RouteUsed(0, p); !ok || used {
			t.Fatalf("%v fresh: used %v ok %v", p, used, ok)
		}
	}
	if _, ok := pr.a.RouteUsed(0, netip.MustParsePrefix("198.18.21.0/24")); ok {
		t.Fatal("RouteUsed found a route that does not exist")
	}
	send := func(dst netip.Addr) {
		src := hostA4
		if dst.Is6() {
			src = hostA6
		}
		p := NewPacket(2048)
		p.SetData(icmpPacket(src, dst, 100, 1))
		pr.wa.ProcessOutbound([]*Packet{p})
		wire(t, p)
		pr.wb.ProcessInbound([]*Packet{p})
		if p.Verdict != VerdictHost {
			t.Fatalf("inbound verdict %v drop %v", p.Verdict, p.Drop)
		}
	}
	send(hostB4)
	if used, _ := pr.a.RouteUsed(0, lan4); !used {
		t.Error("IPv4 packet did not mark its route")
	}
	if used, _ := pr.a.RouteUsed(0, lan6); used {
		t.Error("IPv4 packet marked the IPv6 route")
	}
	if used, _ := pr.a.RouteUsed(0, lan4); used {
		t.Error("RouteUsed did not clear the mark")
	}
	// The receiver's route to its host side is marked too.
	if used, _ := pr.b.RouteUsed(0, lan4); !used {
		t.Error("inbound packet did not mark the receiver's route")
	}
	send(hostB6)
	// A next-hop change (an NHRP shortcut replacing the hub path) keeps
	// the mark; deleting and re-adding starts afresh.
	must(t, pr.a.AddRoute(0, lan6, NextHop{Kind: NextHopTunnel, Tunnel: 1}))
	if used, _ := pr.a.RouteUsed(0, lan6); !used {
		t.Error("replacing the route lost its mark")
	}
	send(hostB6)
	must(t, pr.a.AddRoutes(0, []Route{{Prefix: lan6, NextHop: NextHop{Kind: NextHopTunnel, Tunnel: 1}}}))
	if used, _ := pr.a.RouteUsed(0, lan6); !used {
		t.Error("AddRoutes lost the mark")
	}
	send(hostB6)
	must(t, pr.a.DeleteRoute(0, lan6))
	must(t, pr.a.AddRoute(0, lan6, NextHop{Kind: NextHopTunnel, Tunnel: 1}))
	if used, _ := pr.a.RouteUsed(0, lan6); used {
		t.Error("a re-added route inherited the deleted route's mark")
	}
}

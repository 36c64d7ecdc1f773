package rib

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func clock() func() time.Time {
	now := t0
	return func() time.Time { now = now.Add(time.Second); return now }
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestBestByDistance(t *testing.T) {
	r := New(clock())
	p := pfx("198.19.2.0/24")
	must(t, r.Add(Route{Prefix: p, Source: NHRP, NextHops: []NextHop{{Addr: addr("198.19.255.3"), Interface: "Virtual-Access2"}}, Owner: "nhrp"}))
	must(t, r.Add(Route{Prefix: p, Source: IKEv2, Tag: 1, NextHops: []NextHop{{Interface: "Virtual-Access1"}}, Owner: "va1"}))
	b, ok := r.Best("", p)
	if !ok || b.Source != IKEv2 || b.Distance != 2 {
		t.Fatalf("best = %+v, want the IKEv2 route at distance 2 (seeds: route accept any tag 1 distance 2)", b)
	}
	r.RemoveOwner("va1")
	b, _ = r.Best("", p)
	if b.Source != NHRP || b.Distance != 250 {
		t.Fatalf("after withdrawing the IKEv2 route, best = %+v, want the NHRP H route at 250", b)
	}
	if !r.Remove("", p, NHRP, "nhrp") {
		t.Fatal("Remove of an existing route returned false")
	}
	if _, ok := r.Best("", p); ok {
		t.Fatal("route still present after removing every offer")
	}
	if r.Remove("", p, NHRP, "nhrp") {
		t.Fatal("second Remove returned true")
	}
}

func TestAddReplacesSameOwner(t *testing.T) {
	r := New(clock())
	p := pfx("198.19.5.0/24")
	must(t, r.Add(Route{Prefix: p, Source: Static, NextHops: []NextHop{{Addr: addr("198.18.0.1")}}, Owner: "cfg"}))
	must(t, r.Add(Route{Prefix: p, Source: Static, NextHops: []NextHop{{Addr: addr("198.18.0.9")}}, Owner: "cfg"}))
	b, _ := r.Best("", p)
	if len(b.NextHops) != 1 || b.NextHops[0].Addr != addr("198.18.0.9") {
		t.Fatalf("best next hops = %v, want the replacement only", b.NextHops)
	}
}

func TestAddRejectsBadRoutes(t *testing.T) {
	r := New(nil)
	for name, rt := range map[string]Route{
		"no prefix":   {Source: Static, NextHops: []NextHop{{Interface: "x"}}},
		"no source":   {Prefix: pfx("198.19.0.0/24"), NextHops: []NextHop{{Interface: "x"}}},
		"no next hop": {Prefix: pfx("198.19.0.0/24"), Source: Static},
	} {
		if err := r.Add(rt); err == nil {
			t.Errorf("%s: Add succeeded", name)
		}
	}
}

func TestVRFsAreSeparate(t *testing.T) {
	r := New(clock())
	p := pfx("198.19.1.0/24")
	must(t, r.Add(Route{VRF: "red", Prefix: p, Source: Connected, NextHops: []NextHop{{Interface: "Loopback1"}}}))
	if _, ok := r.Lookup("", addr("198.19.1.1")); ok {
		t.Fatal("a route in VRF red is visible in the global table")
	}
	if rt, ok := r.Lookup("red", addr("198.19.1.1")); !ok || rt.VRF != "red" {
		t.Fatalf("lookup in red = %+v, %v", rt, ok)
	}
	if got := r.VRFs(); len(got) != 1 || got[0] != "red" {
		t.Fatalf("VRFs() = %v", got)
	}
}

func TestOverride(t *testing.T) {
	r := New(clock())
	var changes []Change
	r.Watch(func(c Change) { changes = append(changes, c) })
	summary := pfx("198.19.0.0/16")
	must(t, r.Add(Route{Prefix: summary, Source: IKEv2, Tag: 1, NextHops: []NextHop{{Addr: addr("198.19.255.1"), Interface: "Tunnel1"}}, Owner: "hub"}))
	nh := NextHop{Addr: addr("198.19.255.3"), Interface: "Virtual-Access2"}
	r.SetOverride("", summary, nh)
	rt, _ := r.Lookup("", addr("198.19.2.7"))
	fw := rt.Forwarding()
	if len(fw) != 1 || fw[0].Addr != nh.Addr || !fw[0].Shortcut {
		t.Fatalf("forwarding = %v, want the shortcut next hop", fw)
	}
	// The override survives a change of the underlying route.
	must(t, r.Add(Route{Prefix: summary, Source: IKEv2, Tag: 1, NextHops: []NextHop{{Addr: addr("198.19.255.9"), Interface: "Tunnel1"}}, Owner: "hub"}))
	rt, _ = r.Lookup("", addr("198.19.2.7"))
	if rt.Override == nil {
		t.Fatal("override lost when the covering route changed")
	}
	if !r.ClearOverride("", summary) {
		t.Fatal("ClearOverride returned false")
	}
	rt, _ = r.Lookup("", addr("198.19.2.7"))
	if rt.Override != nil || rt.Forwarding()[0].Addr != addr("198.19.255.9") {
		t.Fatalf("after clearing: %+v", rt)
	}
	if len(changes) != 4 {
		t.Fatalf("got %d change notifications, want 4 (add, override, replace, clear)", len(changes))
	}
	if changes[1].Best == nil || changes[1].Best.Override == nil {
		t.Fatalf("override notification = %+v", changes[1])
	}
}

func TestNoNotificationWithoutChange(t *testing.T) {
	r := New(func() time.Time { return t0 })
	n := 0
	r.Watch(func(Change) { n++ })
	rt := Route{Prefix: pfx("198.19.9.0/24"), Source: Static, NextHops: []NextHop{{Addr: addr("198.18.0.1")}}, Owner: "cfg"}
	must(t, r.Add(rt))
	must(t, r.Add(rt))
	// A worse offer does not change the best route.
	must(t, r.Add(Route{Prefix: rt.Prefix, Source: NHRP, NextHops: []NextHop{{Interface: "Tunnel1"}}, Owner: "n"}))
	if n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
}

// TestLookupOracle checks longest-prefix match against a linear scan.
func TestLookupOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := New(clock())
	var all []netip.Prefix
	for i := 0; i < 300; i++ {
		var a netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{198, 18 + byte(rng.IntN(2)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		} else {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			for j := 4; j < 16; j++ {
				b[j] = byte(rng.IntN(4))
			}
			a = netip.AddrFrom16(b)
		}
		bits := 8 + rng.IntN(a.BitLen()-7)
		p := netip.PrefixFrom(a, bits).Masked()
		all = append(all, p)
		must(t, r.Add(Route{Prefix: p, Source: Static, NextHops: []NextHop{{Interface: p.String()}}, Owner: "x"}))
	}
	for i := 0; i < 2000; i++ {
		base := all[rng.IntN(len(all))].Addr().AsSlice()
		base[len(base)-1] ^= byte(rng.IntN(256))
		a, _ := netip.AddrFromSlice(base)
		var want netip.Prefix
		for _, p := range all {
			if p.Contains(a) && (!want.IsValid() || p.Bits() > want.Bits()) {
				want = p
			}
		}
		got, ok := r.Lookup("", a)
		if ok != want.IsValid() || ok && got.Prefix != want {
			t.Fatalf("Lookup(%s) = %v %v, want %v", a, got.Prefix, ok, want)
		}
	}
}

func TestWriteIPRoute(t *testing.T) {
	r := New(func() time.Time { return t0 })
	add := func(rt Route) { must(t, r.Add(rt)) }
	add(Route{Prefix: pfx("0.0.0.0/0"), Source: Static, NextHops: []NextHop{{Addr: addr("198.18.1.1")}}, Owner: "cfg"})
	add(Route{Prefix: pfx("198.19.1.0/24"), Source: Connected, NextHops: []NextHop{{Interface: "eth1"}}})
	add(Route{Prefix: pfx("198.19.1.1/32"), Source: Local, NextHops: []NextHop{{Interface: "eth1"}}})
	add(Route{Prefix: pfx("198.19.0.0/16"), Source: IKEv2, Tag: 1, NextHops: []NextHop{{Addr: addr("198.19.255.1"), Interface: "Tunnel1"}}, Owner: "hub"})
	add(Route{Prefix: pfx("198.19.2.0/24"), Source: NHRP, Since: t0.Add(-90 * time.Second), NextHops: []NextHop{{Addr: addr("198.19.255.3"), Interface: "Virtual-Access2"}}, Owner: "n"})
	var sb strings.Builder
	WriteIPRoute(&sb, r.Routes("", 4), "", t0)
	got := sb.String()
	want := `Gateway of last resort is 198.18.1.1 to network 0.0.0.0

S*    0.0.0.0/0 [1/0] via 198.18.1.1
S     198.19.0.0/16 [2/0] via 198.19.255.1, Tunnel1
      198.19.1.0/24 is variably subnetted, 2 subnets, 2 masks
C        198.19.1.0/24 is directly connected, eth1
L        198.19.1.1/32 is directly connected, eth1
H     198.19.2.0/24 [250/0] via 198.19.255.3, 00:01:30, Virtual-Access2
`
	if !strings.HasSuffix(got, want) {
		t.Fatalf("show ip route:\n%s\nwant suffix:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "Codes: L - local") {
		t.Fatalf("missing codes legend:\n%s", got)
	}
}

func TestWriteIPv6Route(t *testing.T) {
	r := New(func() time.Time { return t0 })
	must(t, r.Add(Route{Prefix: pfx("2001:db8:5::/64"), Source: IKEv2, Tag: 1, NextHops: []NextHop{{Interface: "Tunnel0"}}, Owner: "hub"}))
	r.SetOverride("", pfx("2001:db8:5::/64"), NextHop{Addr: addr("2001:db8:ff::3"), Interface: "Virtual-Access1"})
	var sb strings.Builder
	WriteIPv6Route(&sb, r.Routes("", 6), "")
	got := sb.String()
	for _, want := range []string{
		"IPv6 Routing Table - default - 1 entry\n",
		"S 2001:db8:5::/64 [2/0], tag 1\n  via 2001:db8:ff::3, Virtual-Access1 [Shortcut]\n  via Tunnel0, directly connected\n",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("show ipv6 route:\n%s\nmissing:\n%s", got, want)
		}
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                         "00:00:00",
		61 * time.Second:          "00:01:01",
		26 * time.Hour:            "1d02h",
		(7*24 + 3*24) * time.Hour: "1w3d",
	} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

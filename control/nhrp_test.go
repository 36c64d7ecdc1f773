package control

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/nhrp"
	"github.com/prometheus/client_golang/prometheus"
)

func readExampleCfg(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "spoke-to-spoke", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNHRPConfigs(t *testing.T) {
	hub := readExampleCfg(t, "hub.cfg")
	spoke := readExampleCfg(t, "spoke1.cfg")
	tests := []struct {
		name string
		src  string
		want map[string]nhrp.Config
	}{
		{"hub redirects and serves", hub, map[string]nhrp.Config{"": {NHS: true, Redirect: true}}},
		{"hub redirect timeout", strings.ReplaceAll(hub, "nhrp redirect\n", "nhrp redirect timeout 20\n"),
			map[string]nhrp.Config{"": {NHS: true, Redirect: true, RedirectTimeout: 20 * time.Second}}},
		{"spoke shortcut through its template", spoke, map[string]nhrp.Config{"": {Shortcut: true, VirtualTemplate: 1}}},
		{"plain shortcut takes the spoke's template", strings.ReplaceAll(spoke, "ip nhrp shortcut virtual-template 1", "ip nhrp shortcut"),
			map[string]nhrp.Config{"": {Shortcut: true, VirtualTemplate: 1}}},
		{"no network-id, no NHRP", hubCfg, map[string]nhrp.Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nhrpConfigs(parse(t, tt.name, tt.src))
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for vrf, w := range tt.want {
				if got[vrf] != w {
					t.Errorf("vrf %q: got %+v, want %+v", vrf, got[vrf], w)
				}
			}
		})
	}
}

// ribSide is a daemon reduced to its RIB, for the adapters that only use it.
func ribSide() *nhrpState {
	d := &Daemon{rib: rib.New(nil), log: slog.New(slog.DiscardHandler), ifTunnel: map[string]dataplane.TunnelID{}}
	d.nhrp = newNHRPState(d)
	return d.nhrp
}

func TestNHRPRouteSink(t *testing.T) {
	ns := ribSide()
	rb := ns.d.rib
	cover := netip.MustParsePrefix("198.19.0.0/16")
	if err := rb.Add(rib.Route{Prefix: cover, Source: rib.IKEv2, Distance: 2, NextHops: []rib.NextHop{{Interface: "Tunnel0"}}, Owner: "Tunnel0"}); err != nil {
		t.Fatal(err)
	}
	sink := &nhrpRoutes{ns: ns}
	lan2 := netip.MustParsePrefix("198.19.2.0/24")
	peer := netip.MustParseAddr("198.19.255.2")

	// An H route at distance 250, through the spoke-to-spoke interface.
	h := nhrp.ShortcutRoute{Prefix: lan2, NextHop: peer, Tunnel: "Virtual-Access1", Kind: nhrp.RouteNHRP, Distance: nhrp.NHRPDistance}
	if err := sink.InstallShortcut(h); err != nil {
		t.Fatal(err)
	}
	r, ok := rb.Best("", lan2)
	if !ok || r.Source != rib.NHRP || r.Distance != 250 || r.NextHops[0].Interface != "Virtual-Access1" || r.NextHops[0].Addr != peer {
		t.Fatalf("H route = %+v (found %v)", r, ok)
	}
	if lr, _ := rb.Lookup("", netip.MustParseAddr("198.19.2.10")); lr.Prefix != lan2 {
		t.Errorf("lookup of host2 uses %v, want the shortcut %v", lr.Prefix, lan2)
	}
	if err := sink.RemoveShortcut(h); err != nil {
		t.Fatal(err)
	}
	if _, ok := rb.Best("", lan2); ok {
		t.Error("H route still installed after RemoveShortcut")
	}

	// NHO on the covering route, cleared on removal.
	nho := nhrp.ShortcutRoute{Prefix: cover, NextHop: peer, Tunnel: "Virtual-Access1", Kind: nhrp.RouteNHO}
	if err := sink.InstallShortcut(nho); err != nil {
		t.Fatal(err)
	}
	r, _ = rb.Best("", cover)
	if fw := r.Forwarding(); r.Override == nil || fw[0].Interface != "Virtual-Access1" || r.Source != rib.IKEv2 {
		t.Errorf("NHO route = %+v, want the IKEv2 route overridden via Virtual-Access1", r)
	}
	if err := sink.RemoveShortcut(nho); err != nil {
		t.Fatal(err)
	}
	if r, _ = rb.Best("", cover); r.Override != nil {
		t.Errorf("override survived RemoveShortcut: %+v", r)
	}

	// NHO for a prefix with no route of its own falls back to an H route.
	nho.Prefix = lan2
	if err := sink.InstallShortcut(nho); err != nil {
		t.Fatal(err)
	}
	if r, ok = rb.Best("", lan2); !ok || r.Source != rib.NHRP {
		t.Errorf("NHO without a route: %+v (found %v), want an H route", r, ok)
	}
	if err := sink.RemoveShortcut(nho); err != nil {
		t.Fatal(err)
	}
	if _, ok := rb.Best("", lan2); ok {
		t.Error("fallback H route still installed after RemoveShortcut")
	}
}

func TestNHRPRIBLookup(t *testing.T) {
	ns := ribSide()
	rb := ns.d.rib
	for _, r := range []rib.Route{
		{Prefix: netip.MustParsePrefix("198.19.0.0/16"), Source: rib.IKEv2, NextHops: []rib.NextHop{{Interface: "Tunnel0"}}, Owner: "Tunnel0"},
		{Prefix: netip.MustParsePrefix("198.19.1.0/24"), Source: rib.Connected, NextHops: []rib.NextHop{{Interface: "GigabitEthernet2"}}, Owner: ownerConfig},
		{Prefix: netip.MustParsePrefix("198.19.1.1/32"), Source: rib.Local, NextHops: []rib.NextHop{{Interface: "GigabitEthernet2"}}, Owner: ownerConfig},
		{Prefix: netip.MustParsePrefix("198.19.2.0/24"), Source: rib.NHRP, Distance: 250, NextHops: []rib.NextHop{{Addr: netip.MustParseAddr("198.19.255.2"), Interface: "Virtual-Access1", Shortcut: true}}, Owner: "Virtual-Access1"},
	} {
		if err := rb.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	lk := &nhrpRIB{ns: ns}
	tests := []struct {
		dst  string
		want nhrp.Route
	}{
		{"198.19.3.10", nhrp.Route{Prefix: netip.MustParsePrefix("198.19.0.0/16"), Tunnel: "Tunnel0"}},
		{"198.19.1.10", nhrp.Route{Prefix: netip.MustParsePrefix("198.19.1.0/24"), Tunnel: "GigabitEthernet2"}},
		{"198.19.1.1", nhrp.Route{Prefix: netip.MustParsePrefix("198.19.1.1/32"), Tunnel: "GigabitEthernet2", Local: true}},
		{"198.19.2.10", nhrp.Route{Prefix: netip.MustParsePrefix("198.19.2.0/24"), Tunnel: "Virtual-Access1",
			NextHop: netip.MustParseAddr("198.19.255.2"), Shortcut: true}},
	}
	for _, tt := range tests {
		got, ok := lk.Lookup(netip.MustParseAddr(tt.dst))
		if !ok || got != tt.want {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", tt.dst, got, ok, tt.want)
		}
	}
	if _, ok := lk.Lookup(netip.MustParseAddr("203.0.113.1")); ok {
		t.Error("lookup without a route succeeded")
	}
}

// nhrpHubCfg and nhrpSpokeCfg are the in-memory hub and spoke in GRE mode
// with NHRP.
var (
	nhrpHubCfg   = strings.NewReplacer(" tunnel mode ipsec ipv4\n", " ip nhrp network-id 1\n ip nhrp redirect\n").Replace(hubCfg)
	nhrpSpokeCfg = strings.NewReplacer(" tunnel mode ipsec ipv4\n", " ip nhrp network-id 1\n ip nhrp shortcut virtual-template 1\n").Replace(spokeCfg) +
		"interface Virtual-Template1 type tunnel\n ip unnumbered Loopback0\n ip nhrp network-id 1\n ip nhrp shortcut virtual-template 1\n tunnel source GigabitEthernet1\n tunnel protection ipsec profile hub\nend\n"
)

func TestNHRPTunnelsAttach(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", nhrpHubCfg))
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", nhrpSpokeCfg))
	peers := func(s *side) []nhrp.PeerView {
		return s.run(t, "show", "dmvpn").Data.([]nhrp.PeerView)
	}
	waitFor(t, "NHRP peers on both sides", func() bool { return len(peers(hub)) == 1 && len(peers(spoke)) == 1 })
	hp, sp := peers(hub)[0], peers(spoke)[0]
	if hp.Interface != "Virtual-Access1" || hp.PeerNBMA != "198.18.1.2" || strings.Contains(hp.Attributes, "S") {
		t.Errorf("hub peer = %+v, want dynamic Virtual-Access1 to 198.18.1.2", hp)
	}
	if sp.Interface != "Tunnel0" || sp.PeerNBMA != "198.18.0.2" || !strings.Contains(sp.Attributes, "S") ||
		len(sp.PeerTunnel) != 1 || sp.PeerTunnel[0] != "198.19.255.254" {
		t.Errorf("spoke peer = %+v, want static Tunnel0 to the hub 198.19.255.254 at 198.18.0.2", sp)
	}
	if txt := spoke.run(t, "show", "dmvpn").Text; !strings.Contains(txt, "NHRP peers: 1") {
		t.Errorf("show dmvpn:\n%s", txt)
	}
	if txt := hub.run(t, "show", "ip", "nhrp", "traffic").Text; strings.Contains(txt, "not configured") {
		t.Errorf("hub show ip nhrp traffic:\n%s", txt)
	}
	if got := hub.run(t, "clear", "ip", "nhrp").Data.(map[string]int)["cleared"]; got != 0 {
		t.Errorf("clear ip nhrp on an empty cache cleared %d", got)
	}

	// Prometheus: the NHRP counters, labelled by VRF.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(hub.d.NHRPMetrics())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetName() == "esphub_nhrp_packets_sent_total" {
			if l := mf.GetMetric()[0].GetLabel(); len(l) != 2 || l[1].GetName() != "vrf" || l[1].GetValue() != "default" {
				t.Errorf("labels %v, want type and vrf=default", l)
			}
		}
	}
	for _, n := range []string{"esphub_nhrp_packets_sent_total", "esphub_nhrp_drops_total", "esphub_nhrp_cache_entries", "esphub_nhrp_hairpin_events_lost_total"} {
		if !names[n] {
			t.Errorf("metric %s missing; have %v", n, names)
		}
	}

	// The session going down detaches the tunnel.
	spoke.cancel()
	waitFor(t, "hub NHRP peer gone", func() bool { return len(peers(hub)) == 0 })
}

func TestNHRPNotConfigured(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubCfg))
	if txt := hub.run(t, "show", "ip", "nhrp", "traffic").Text; !strings.Contains(txt, "not configured") {
		t.Errorf("show ip nhrp traffic without NHRP:\n%s", txt)
	}
	if rows := hub.run(t, "show", "ip", "nhrp", "detail").Data.([]nhrpEntryJSON); len(rows) != 0 {
		t.Errorf("show ip nhrp without NHRP: %+v", rows)
	}
}

func TestNHRPReloadReattaches(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", nhrpHubCfg))
	startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", nhrpSpokeCfg))
	peers := func() []nhrp.PeerView { return hub.run(t, "show", "dmvpn").Data.([]nhrp.PeerView) }
	waitFor(t, "hub NHRP peer", func() bool { return len(peers()) == 1 })
	before := hub.d.nhrp.allNodes()[0].node

	// A changed redirect timeout rebuilds the instance; the session stays
	// and its tunnel is attached to the new one.
	hub.d.Reload(parse(t, "hub2.cfg", strings.Replace(nhrpHubCfg, " ip nhrp redirect\n", " ip nhrp redirect timeout 20\n", 1)))
	nodes := hub.d.nhrp.allNodes()
	if len(nodes) != 1 || nodes[0].node == before || nodes[0].cfg.RedirectTimeout != 20*time.Second {
		t.Fatalf("after reload: %d instances, rebuilt %v, cfg %+v", len(nodes), len(nodes) == 1 && nodes[0].node != before, nodes)
	}
	if p := peers(); len(p) != 1 || p[0].Interface != "Virtual-Access1" {
		t.Errorf("after reload the hub's NHRP peers are %+v, want Virtual-Access1 attached again", p)
	}

	// Removing NHRP from the configuration removes the instance.
	hub.d.Reload(parse(t, "hub3.cfg", hubCfg))
	if n := len(hub.d.nhrp.allNodes()); n != 0 {
		t.Errorf("%d NHRP instances left after NHRP was removed from the configuration", n)
	}
}

// TestNHRPUsagePerRoute: a shortcut counts as used only when packets take
// its own route, not when other traffic (another prefix on the same
// tunnel, NHRP) does.
func TestNHRPUsagePerRoute(t *testing.T) {
	ns := ribSide()
	eng := dataplane.NewEngine(dataplane.Options{})
	ns.d.dp = memDP{eng}
	ns.d.vrfIDs = map[string]uint32{}
	u := &nhrpUsage{ns: ns, vrf: ""}
	lan2 := netip.MustParsePrefix("198.19.2.0/24")
	lan6 := netip.MustParsePrefix("2001:db8:1:2::/64")
	for _, p := range []netip.Prefix{lan2, lan6} {
		// A tunnel the engine does not have: routed, then dropped.
		if err := eng.AddRoute(ns.d.vrfID(""), p, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 9}); err != nil {
			t.Fatal(err)
		}
	}
	r4 := nhrp.ShortcutRoute{Prefix: lan2, Tunnel: "Virtual-Access1"}
	r6 := nhrp.ShortcutRoute{Prefix: lan6, Tunnel: "Virtual-Access1"}
	if a, b := u.PacketsVia(r4), u.PacketsVia(r6); a != 0 || b != 0 {
		t.Fatalf("fresh routes read %d, %d", a, b)
	}
	// One IPv6 packet from the LAN takes lan6's route.
	w := eng.NewWorker()
	pkt := dataplane.NewPacket(256)
	ip6 := make([]byte, 48)
	ip6[0], ip6[5], ip6[6], ip6[7] = 0x60, 8, 58, 64
	copy(ip6[8:], netip.MustParseAddr("2001:db8:1:1::10").AsSlice())
	copy(ip6[24:], netip.MustParseAddr("2001:db8:1:2::10").AsSlice())
	pkt.SetData(ip6)
	w.ProcessOutbound([]*dataplane.Packet{pkt})
	if a, b := u.PacketsVia(r4), u.PacketsVia(r6); a != 0 || b != 1 {
		t.Fatalf("after one IPv6 packet: IPv4 route %d, IPv6 route %d; want 0 and 1", a, b)
	}
	if b := u.PacketsVia(r6); b != 1 {
		t.Fatalf("idle IPv6 route advanced to %d", b)
	}
	// Use seen just before the route is removed (a shortcut moving to
	// another tunnel) is not lost with the FIB entry.
	pkt.SetData(ip6)
	w.ProcessOutbound([]*dataplane.Packet{pkt})
	if err := (&nhrpRoutes{ns: ns}).RemoveShortcut(r6); err != nil {
		t.Fatal(err)
	}
	if b := u.PacketsVia(r6); b != 2 {
		t.Fatalf("use before the removal lost: IPv6 route reads %d, want 2", b)
	}
}

// TestVRFNHRPConfigs: the MPLS example's overlay (mpls nhrp on the tunnel
// and template) gets one NHRP instance per VRF of router bgp, with the
// overlay's settings and next-hop overrides; without mpls nhrp, or
// without router bgp, none.
func TestVRFNHRPConfigs(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "examples", "mpls", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	spoke, hub := read("spoke1.cfg"), read("hub.cfg")
	for _, tt := range []struct {
		name string
		src  string
		want nhrp.Config
		n    int
	}{
		{"spoke", spoke, nhrp.Config{Shortcut: true, VirtualTemplate: 1, RouteKind: nhrp.RouteNHO}, 2},
		{"hub", hub, nhrp.Config{NHS: true, Redirect: true, RouteKind: nhrp.RouteNHO}, 2},
		{"no mpls nhrp", strings.ReplaceAll(spoke, " mpls nhrp\n", ""), nhrp.Config{}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := parse(t, tt.name, tt.src)
			got := vrfNHRPConfigs(c, nhrpConfigs(c))
			if len(got) != tt.n {
				t.Fatalf("instances %+v, want %d", got, tt.n)
			}
			for _, vrf := range []string{"red", "blue"} {
				if tt.n == 0 {
					break
				}
				if v, ok := got[vrf]; !ok || v.overlay != "" || v.cfg != tt.want {
					t.Errorf("vrf %s: %+v, want overlay \"\" and %+v", vrf, v, tt.want)
				}
			}
		})
	}
}

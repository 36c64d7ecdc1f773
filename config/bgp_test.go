package config

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestBGPHubModel(t *testing.T) {
	src, err := os.ReadFile("testdata/mpls-hub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := Parse("mpls-hub.cfg", src)
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	b := cfg.BGP
	if b == nil || b.ASN != 65010 || b.RouterID != netip.MustParseAddr("198.19.255.254") || !b.NoDefaultIPv4 ||
		b.ListenLimit != 5000 || b.KeepaliveTime != 10 || b.HoldTime != 30 {
		t.Fatalf("router bgp = %+v", b)
	}
	if len(b.ListenRanges) != 1 || b.ListenRanges[0].Prefix != netip.MustParsePrefix("198.19.255.0/24") || b.ListenRanges[0].PeerGroup != "spokes" {
		t.Fatalf("listen ranges = %+v", b.ListenRanges)
	}
	g := b.Neighbor("spokes")
	if g == nil || !g.IsGroup || g.RemoteAS != 65100 || !g.Passive || g.UpdateSource != "Loopback0" || g.EBGPMultihop != 255 ||
		!g.VPNv4 || g.IPv4 || g.SendCommunity != "extended" || !g.NextHopSelf {
		t.Fatalf("peer group = %+v", g)
	}
	red, blue := b.VRF("red"), b.VRF("blue")
	if red == nil || !red.RedistributeConnected || !red.RedistributeStatic || blue == nil || blue.RedistributeStatic ||
		len(blue.Networks) != 1 || blue.Networks[0] != netip.MustParsePrefix("198.19.200.0/24") {
		t.Fatalf("vrfs = %+v %+v", red, blue)
	}
	if v := cfg.VRF("blue"); v == nil || v.RD != "65010:2" || len(v.RTImport) != 1 || len(v.RTExport) != 1 {
		t.Fatalf("vrf blue = %+v", v)
	}
	if i := cfg.Interface("red-lan"); i == nil || i.VRF != "red" {
		t.Fatalf("red-lan = %+v", i)
	}
}

func TestBGPEffectiveInheritsGroup(t *testing.T) {
	cfg := mustParse(t, `vrf definition red
 rd 1:1
router bgp 100
 neighbor hub peer-group
 neighbor hub remote-as 10
 neighbor hub ebgp-multihop
 neighbor 198.19.255.254 peer-group hub
 address-family vpnv4
  neighbor hub send-community both
  neighbor 198.19.255.254 activate
 exit-address-family
 address-family ipv4 vrf red
  redistribute connected
`)
	n := cfg.BGP.Neighbor("198.19.255.254")
	e := cfg.BGP.Effective(n)
	if e.RemoteAS != 10 || e.EBGPMultihop != 255 || e.SendCommunity != "both" || !e.VPNv4 || n.RemoteAS != 0 {
		t.Fatalf("effective = %+v", e)
	}
	checkRoundTrip(t, cfg)
}

func TestBGPErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"bad asn", "router bgp 0\n", "not an AS number"},
		{"second asn", "router bgp 1\nrouter bgp 2\n", "already running with AS 1"},
		{"no remote-as", "router bgp 1\n neighbor 198.18.0.1 description x\n", "no remote-as"},
		{"undefined group", "router bgp 1\n neighbor 198.18.0.1 peer-group g\n", "no such peer group"},
		{"listen range group", "router bgp 1\n bgp listen range 198.18.0.0/16 peer-group g\n", "peer group g is not defined"},
		{"vrf undefined", "router bgp 1\n address-family ipv4 vrf red\n  redistribute connected\n", "VRF red is not defined"},
		{"vrf without rd", "vrf definition red\nrouter bgp 1\n address-family ipv4 vrf red\n", "has no rd"},
		{"remote-as in af", "router bgp 1\n address-family vpnv4\n  neighbor 198.18.0.1 remote-as 2\n", "belongs in router bgp"},
		{"send-community word", "router bgp 1\n neighbor 198.18.0.1 remote-as 2\n neighbor 198.18.0.1 send-community lots\n", "expected standard, extended or both"},
		{"hold time", "router bgp 1\n timers bgp 1 2\n", "at least 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse("t.cfg", []byte(tc.src))
			if !diags.HasErrors() || !strings.Contains(diags.Err().Error(), tc.want) {
				t.Fatalf("diags = %v, want an error containing %q", diags, tc.want)
			}
		})
	}
}

func TestParseASN(t *testing.T) {
	for s, want := range map[string]uint32{"1": 1, "65010": 65010, "4294967295": 4294967295, "1.10": 65546} {
		if got, err := parseASN(s); err != nil || got != want {
			t.Errorf("parseASN(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"0", "0.0", "-1", "+5", "4294967296", "a", "1.70000"} {
		if _, err := parseASN(s); err == nil {
			t.Errorf("parseASN(%q) accepted", s)
		}
	}
}

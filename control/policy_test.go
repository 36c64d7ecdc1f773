package control

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

func TestIKEProposalsExpandInPreferenceOrder(t *testing.T) {
	c := parse(t, "p.cfg", `crypto ikev2 proposal a
 encryption aes-gcm-256 aes-gcm-128
 prf sha384 sha256
 group 20 19
crypto ikev2 proposal b
 encryption aes-cbc-256
 integrity sha256 sha1
 group 14
end
`)
	got := ikeProposals([]*config.Proposal{c.Proposal("a"), c.Proposal("b")})
	want := []suite.Proposal{
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2384, DH: 20},
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2384, DH: 19},
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: 20},
	}
	if len(got) != 2*2*2+2 {
		t.Fatalf("got %d proposals, want 10: %v", len(got), got)
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("proposal %d = %v, want %v", i, got[i], w)
		}
	}
	last := got[len(got)-1]
	if last.Encr != wire.EncrAESCBC || last.Integ != wire.IntegHMACSHA196 || last.PRF != wire.PRFHMACSHA1 || last.DH != 14 {
		t.Errorf("last proposal = %v, want aes256-sha1-prfsha1-modp2048", last)
	}
}

func TestESPProposalsKeepOnlyWhatTheDataplaneCarries(t *testing.T) {
	c := parse(t, "t.cfg", `crypto ipsec transform-set gcm esp-gcm 256
crypto ipsec transform-set old esp-3des esp-md5-hmac
crypto ipsec transform-set cbc esp-aes 128 esp-sha256-hmac
 mode transport
crypto ipsec profile p
 set transform-set gcm old cbc
 set pfs group19
end
`)
	got, _ := espProposals(c, c.IPsecProfile("p"))
	if len(got) != 2 || got[0].Encr != wire.EncrAESGCM16 || got[1].Integ != wire.IntegHMACSHA2256128 || got[0].DH != 19 {
		t.Errorf("esp proposals = %v", got)
	}
	for _, tc := range []struct {
		enc   wire.EncrID
		integ wire.IntegID
		ok    bool
	}{
		{wire.EncrAESGCM16, wire.IntegNone, true},
		{wire.EncrAESCBC, wire.IntegHMACSHA196, true},
		{wire.EncrAESCBC, wire.IntegHMACSHA2256128, true},
		{wire.EncrAESCBC, wire.IntegHMACSHA2512256, false},
		{wire.EncrDES3, wire.IntegHMACSHA196, false},
	} {
		if _, ok := espAlgorithm(tc.enc, tc.integ); ok != tc.ok {
			t.Errorf("espAlgorithm(%v, %v) ok = %v, want %v", tc.enc, tc.integ, ok, tc.ok)
		}
	}
}

func TestIdentityConversions(t *testing.T) {
	for _, id := range []config.Identity{
		{Type: config.IDFQDN, Value: "spoke1.lab.example"},
		{Type: config.IDEmail, Value: "ops@lab.example"},
		{Type: config.IDKeyID, Value: "spoke7"},
		{Type: config.IDAddress, Prefix: netip.MustParsePrefix("198.18.1.2/32")},
		{Type: config.IDAddress, Prefix: netip.MustParsePrefix("2001:db8::1/128")},
	} {
		w, err := toIKEIdentity(id)
		if err != nil {
			t.Fatal(err)
		}
		back := fromIKEIdentity(w)
		if back.Type != id.Type || back.Value != id.Value || back.Prefix != id.Prefix {
			t.Errorf("%+v -> %v -> %+v", id, w, back)
		}
	}
	if got := fromIKEIdentity(ike.Identity{Type: wire.IDType(200), Data: []byte{1}}); got.Matches(config.Identity{Type: config.IDAny}) {
		t.Errorf("unknown identity type matched as %v", got)
	}
}

func TestRouteSet(t *testing.T) {
	c := parse(t, "r.cfg", `crypto ikev2 authorization policy a
 route set interface
 route set access-list lans
 route set access-list ipv6 lans6
 route set local ipv4 198.19.128.0 255.255.128.0
interface Loopback0
 ip address 198.19.255.1 255.255.255.255
 ipv6 address 2001:db8:1:ff::1/128
interface Tunnel0
 ip unnumbered Loopback0
 ipv6 unnumbered Loopback0
 tunnel destination 198.18.0.2
ip access-list standard lans
 permit 198.19.1.0 0.0.0.255
 deny 198.19.2.0 0.0.0.255
 permit host 198.19.3.3
ipv6 access-list lans6
 permit ipv6 2001:db8:1:1::/64 any
end
`)
	got := routeSet(c, c.AuthzPolicy("a"), c.Interface("Tunnel0"))
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := "198.19.255.1/32 2001:db8:1:ff::1/128 198.19.1.0/24 198.19.3.3/32 2001:db8:1:1::/64 198.19.128.0/17"
	if strings.Join(s, " ") != want {
		t.Errorf("route set = %s\nwant        %s", strings.Join(s, " "), want)
	}
}

func TestPlanTunnelModes(t *testing.T) {
	c := parse(t, "m.cfg", `crypto ikev2 profile p
 match identity remote any
 virtual-template 1 mode auto
interface Virtual-Template1 type tunnel
 tunnel mode gre ip
 tunnel key 7
interface Tunnel1
 tunnel mode ipsec ipv4 v6-overlay
 tunnel destination 198.18.0.2
end
`)
	prof := c.Profile("p")
	gre, err := planTunnel(c, c.Interface("Virtual-Template1"), prof, true)
	if err != nil {
		t.Fatal(err)
	}
	if gre.Mode != dataplane.ModeGRE || gre.ChildMode != ike.ModeTransport || gre.GREKey == nil || *gre.GREKey != 7 {
		t.Errorf("FlexVPN peer on a GRE template: %+v", gre)
	}
	cc := gre.childConfig(netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.1.2"), false)
	if cc.LocalTS[0].Proto != 47 || cc.LocalTS[0].Start != netip.MustParseAddr("198.18.0.2") || cc.RemoteTS[0].End != netip.MustParseAddr("198.18.1.2") {
		t.Errorf("GRE selectors: %v %v", cc.LocalTS, cc.RemoteTS)
	}
	auto, err := planTunnel(c, c.Interface("Virtual-Template1"), prof, false)
	if err != nil {
		t.Fatal(err)
	}
	if auto.Mode != dataplane.ModeIPsec || auto.ChildMode != ike.ModeTunnel {
		t.Errorf("mode auto with a non-FlexVPN peer: %+v, want IPsec mode", auto)
	}
	v6, err := planTunnel(c, c.Interface("Tunnel1"), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	cc = v6.childConfig(netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.0.2"), false)
	if !v6.Overlay6 || cc.LocalTS[0] != ike.TSAny6 {
		t.Errorf("v6 overlay over IPv4: %+v %v", v6, cc.LocalTS)
	}
}

func TestTSPrefix(t *testing.T) {
	for _, p := range []string{"0.0.0.0/0", "198.19.0.0/16", "198.19.1.7/32", "2001:db8::/32"} {
		pp := netip.MustParsePrefix(p)
		got, ok := tsPrefix(ike.TSFromPrefix(pp))
		if !ok || got != pp {
			t.Errorf("tsPrefix(%s) = %v %v", p, got, ok)
		}
	}
	r := ike.TrafficSelector{Start: netip.MustParseAddr("198.19.0.1"), End: netip.MustParseAddr("198.19.0.5"), EndPort: 0xffff}
	if _, ok := tsPrefix(r); ok {
		t.Error("a range that is no prefix converted to one")
	}
	if got := tsPrefixes([]ike.TrafficSelector{ike.TSAny4}); got != nil {
		t.Errorf("any selector = %v, want nil (the dataplane's any)", got)
	}
}

func TestTunnelConfigEqual(t *testing.T) {
	base := parse(t, "s.cfg", spokeCfg)
	for _, tc := range []struct {
		name string
		edit func(string) string
		same bool
	}{
		{"hostname", func(s string) string { return strings.Replace(s, "hostname s1", "hostname x", 1) }, true},
		{"other keyring peer", func(s string) string {
			return strings.Replace(s, " peer hub\n", " peer other\n  address 198.18.9.9\n  pre-shared-key 0 z\n peer hub\n", 1)
		}, true},
		{"our key", func(s string) string { return strings.Replace(s, "key-one", "key-new", 1) }, false},
		{"destination", func(s string) string {
			return strings.Replace(s, "destination 198.18.0.2", "destination 198.18.0.3", 1)
		}, false},
		{"transform set", func(s string) string { return strings.Replace(s, "esp-gcm 256", "esp-gcm 128", 1) }, false},
		{"proposal", func(s string) string { return strings.Replace(s, "group 19", "group 20", 1) }, false},
	} {
		n := parse(t, "s.cfg", tc.edit(spokeCfg))
		if got := tunnelConfigEqual(base, n, "Tunnel0"); got != tc.same {
			t.Errorf("%s: equal = %v, want %v", tc.name, got, tc.same)
		}
	}
}

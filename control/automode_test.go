package control

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
)

func TestAutoTunnelMode(t *testing.T) {
	host := func(a string, proto uint8) ike.TrafficSelector {
		ts := ike.TSFromPrefix(netip.PrefixFrom(netip.MustParseAddr(a), netip.MustParseAddr(a).BitLen()))
		ts.Proto = proto
		return ts
	}
	v4, v6 := netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("2001:db8::2")
	ts := func(x ...ike.TrafficSelector) []ike.TrafficSelector { return x }
	for _, c := range []struct {
		name     string
		remote   netip.Addr
		tsi, tsr []ike.TrafficSelector
		want     config.TunnelMode
		ok       bool
	}{
		{"GRE host to host over IPv4", v4, ts(host("198.18.1.2", 47)), ts(host("198.18.0.2", 47)), config.ModeGREIP, true},
		{"GRE host to host over IPv6", v6, ts(host("2001:db8::2", 47)), ts(host("2001:db8::1", 47)), config.ModeGREIPv6, true},
		{"IPv4 any-any", v4, ts(ike.TSAny4), ts(ike.TSAny4), config.ModeIPsecIPv4, true},
		{"IPv6 any-any over IPv6", v6, ts(ike.TSAny6), ts(ike.TSAny6), config.ModeIPsecIPv6, true},
		{"IPv4 over IPv6", v6, ts(ike.TSAny4), ts(ike.TSAny4), config.ModeIPsecV4OverV6, true},
		{"IPv6 over IPv4", v4, ts(ike.TSAny6), ts(ike.TSAny6), config.ModeIPsecV6OverV4, true},
		{"both families: the outer one", v4, ts(ike.TSAny4, ike.TSAny6), ts(ike.TSAny4, ike.TSAny6), config.ModeIPsecIPv4, true},
		{"GRE only one way is not GRE", v4, ts(host("198.18.1.2", 47)), ts(ike.TSAny4), config.ModeIPsecIPv4, true},
		{"a client's narrowed subnet", v4, ts(host("198.19.100.1", 0)), ts(ike.TSAny4), config.ModeIPsecIPv4, true},
		{"no selectors", v4, nil, nil, "", false},
	} {
		got, ok := autoTunnelMode(c.remote, c.tsi, c.tsr)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %q %v, want %q %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// With `virtual-template 1 mode auto`, a FlexVPN spoke proposing any-any
// (IPsec mode) gets an IPsec-mode Virtual-Access from a template that says
// GRE, and one proposing GRE selectors gets GRE: the selectors decide, not
// the vendor ID.
func TestModeAutoBySelectors(t *testing.T) {
	hubC := strings.Replace(hubCfg, " virtual-template 1\n", " virtual-template 1 mode auto\n", 1)
	hubC = strings.Replace(hubC, " tunnel mode ipsec ipv4\n", " tunnel mode gre ip\n", 1)
	hubC = strings.Replace(hubC, " peer s1\n", " peer s2\n  identity fqdn s2.lab.example\n  pre-shared-key 0 key-one\n peer s1\n", 1)
	s2 := strings.Replace(strings.Replace(spokeCfg, "hostname s1", "hostname s2", 1), "identity local fqdn s1.lab.example", "identity local fqdn s2.lab.example", 1)
	s2 = strings.Replace(s2, " tunnel mode ipsec ipv4\n", " tunnel mode gre ip\n", 1)
	s2 = strings.Replace(s2, "198.18.1.2 255.255.255.0", "198.18.2.2 255.255.255.0", 1)
	s2 = strings.Replace(s2, "198.19.1", "198.19.2", -1)
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubC))
	startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeCfg)) // IPsec mode
	startSide(t, net, "198.18.2.2", parse(t, "s2.cfg", s2))       // GRE mode
	waitFor(t, "both spokes' sessions on the hub", func() bool { return len(hub.d.Sessions()) == 2 })
	modes := map[string]string{}
	for _, s := range hub.d.Sessions() {
		modes[s.Remote.Addr().String()] = s.Mode
		want := map[string]string{"198.18.1.2": " tunnel mode ipsec ipv4\n", "198.18.2.2": " tunnel mode gre ip\n"}[s.Remote.Addr().String()]
		got := hub.run(t, "show", "derived-config", "interface", "virtual-access", strings.TrimPrefix(s.Interface, "Virtual-Access")).Text
		if !strings.Contains(got, want) {
			t.Errorf("derived config of %s (peer %v) lacks %q:\n%s", s.Interface, s.Remote, want, got)
		}
	}
	if modes["198.18.1.2"] != "ipsec" || modes["198.18.2.2"] != "gre" {
		t.Errorf("hub session modes %v, want 198.18.1.2 ipsec (any-any) and 198.18.2.2 gre (protocol 47)", modes)
	}
}

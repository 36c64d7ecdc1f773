package config

import (
	"net/netip"
	"slices"
	"strings"
)

var interfaceMode = &mode{name: "config-if", what: "interface"}

func interfaceCmd(c *ctx) *frame {
	name, n, ok := interfaceWords(c, 0)
	if !ok {
		return nil
	}
	_, kind, num, _ := canonicalInterface(name)
	cfg := c.p.cfg
	if c.neg {
		cfg.Interfaces = slices.DeleteFunc(cfg.Interfaces, func(i *Interface) bool { return i.Name == name })
		return nil
	}
	tt := ""
	if len(c.args) > n {
		if kind != KindVirtualTemplate || !c.argIs(n, "type") {
			return c.errf(n, "interface: unexpected %q", c.args[n].text)
		}
		t, ok := c.arg(n+1, "template type")
		if !ok || !c.nargs(n+2, n+2, "") {
			return nil
		}
		tt = strings.ToLower(t)
		if tt != "tunnel" && tt != "ethernet" && tt != "serial" {
			return c.errf(n+1, "interface: unknown virtual-template type %q", t)
		}
	}
	ifc := cfg.Interface(name)
	if ifc == nil {
		ifc = &Interface{Name: name, Kind: kind, Number: num, TemplateType: tt, Pos: c.posAt(0), Refs: map[string]Pos{}}
		cfg.Interfaces = append(cfg.Interfaces, ifc)
	} else if tt != "" {
		ifc.TemplateType = tt
	}
	return &frame{mode: interfaceMode, obj: ifc}
}

func (i *Interface) tunnel() *TunnelConfig {
	if i.Tunnel == nil {
		i.Tunnel = &TunnelConfig{}
	}
	return i.Tunnel
}

func (i *Interface) nhrp() *NHRPConfig {
	if i.NHRP == nil {
		i.NHRP = &NHRPConfig{}
	}
	return i.NHRP
}

func ifc(c *ctx) *Interface { return c.frame.obj.(*Interface) }

// tunnelOnly reports an error unless the interface can carry tunnel commands.
func tunnelOnly(c *ctx) bool {
	i := ifc(c)
	if i.Kind != KindTunnel && i.Kind != KindVirtualTemplate {
		c.p.errorf(c.pos(), "%q is only valid on Tunnel and Virtual-Template interfaces, not %s", c.what(), i.Name)
		return false
	}
	return true
}

func interfaceInit() {
	interfaceMode.cmds = []*cmd{
		kwNo("description", func(c *ctx) *frame { ifc(c).Description = c.rest(0); return nil }),
		kwNo("shutdown", func(c *ctx) *frame { ifc(c).Shutdown = !c.neg; return nil }),
		kwNo("ip address", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.Addresses, i.Secondary, i.AddressPos, i.AddressNegotiated = nil, nil, nil, false
				return nil
			}
			if c.argIs(0, "negotiated") {
				if c.nargs(1, 1, "") {
					i.AddressNegotiated, i.Addresses, i.Secondary, i.AddressPos = true, nil, nil, nil
				}
				return nil
			}
			if c.argIs(0, "dhcp") {
				c.warnUnimpl(0, "ip address dhcp")
				return nil
			}
			p, ok := c.addrMaskArg(0)
			if !ok || !c.nargs(2, 3, "") {
				return nil
			}
			sec := false
			if len(c.args) == 3 {
				if !c.argIs(2, "secondary") {
					return c.errf(2, "ip address: unexpected %q", c.args[2].text)
				}
				sec = true
			}
			if p.Bits() < 31 && (p.Addr() == p.Masked().Addr()) {
				return c.errf(0, "ip address: %s is the network address of %s", p.Addr(), p.Masked())
			}
			if p.Bits() < 31 && p.Addr() == lastAddr(p) {
				return c.errf(0, "ip address: %s is the broadcast address of %s", p.Addr(), p.Masked())
			}
			if sec {
				if len(i.Addresses) == 0 {
					return c.errf(2, "ip address: a secondary address needs a primary address first")
				}
				i.Addresses = append(i.Addresses, p)
				i.Secondary = append(i.Secondary, true)
				i.AddressPos = append(i.AddressPos, c.posAt(0))
				return nil
			}
			i.AddressNegotiated, i.Unnumbered = false, ""
			if len(i.Addresses) == 0 {
				i.Addresses, i.Secondary, i.AddressPos = []netip.Prefix{p}, []bool{false}, []Pos{c.posAt(0)}
			} else {
				i.Addresses[0], i.AddressPos[0] = p, c.posAt(0)
			}
			return nil
		}),
		kwNo("ip unnumbered", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.Unnumbered = ""
				return nil
			}
			if name, ok := interfaceArg(c, 0); ok {
				i.Unnumbered, i.Addresses, i.Secondary, i.AddressPos = name, nil, nil, nil
				i.Refs["ip unnumbered"] = c.posAt(0)
			}
			return nil
		}),
		kwNo("ipv6 address", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.IPv6Addresses = nil
				return nil
			}
			if c.argIs(0, "autoconfig") || c.argIs(0, "dhcp") {
				c.warnUnimpl(0, "ipv6 address "+c.args[0].text)
				return nil
			}
			p, ok := c.prefix6Arg(0)
			if !ok {
				return nil
			}
			if len(c.args) > 1 {
				if c.argIs(1, "link-local") || c.argIs(1, "eui-64") || c.argIs(1, "anycast") {
					c.warnUnimpl(1, "ipv6 address ... "+c.args[1].text)
					return nil
				}
				return c.errf(1, "ipv6 address: unexpected %q", c.args[1].text)
			}
			i.IPv6Addresses = append(i.IPv6Addresses, p)
			return nil
		}),
		kwNo("ipv6 unnumbered", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.IPv6Unnumbered = ""
				return nil
			}
			if name, ok := interfaceArg(c, 0); ok {
				i.IPv6Unnumbered = name
				i.Refs["ipv6 unnumbered"] = c.posAt(0)
			}
			return nil
		}),
		kwNo("ipv6 enable", func(c *ctx) *frame { ifc(c).IPv6Enable = !c.neg; return nil }),
		kwNo("vrf forwarding", ifVRF),
		kwNo("ip vrf forwarding", ifVRF),
		kwNo("ip mtu", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.MTU = 0
				return nil
			}
			if n, ok := c.intArg(0, 68, 9216, "MTU"); ok && c.nargs(1, 1, "") {
				i.MTU = n
			}
			return nil
		}),
		kwNo("ip tcp adjust-mss", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.TCPAdjustMSS = 0
				return nil
			}
			if n, ok := c.intArg(0, 500, 1460, "MSS"); ok && c.nargs(1, 1, "") {
				i.TCPAdjustMSS = n
			}
			return nil
		}),
		kwNo("encapsulation dot1q", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.Encapsulation = ""
				return nil
			}
			if _, ok := c.intArg(0, 1, 4094, "VLAN"); ok && c.nargs(1, 2, "") {
				i.Encapsulation = "dot1Q " + c.rest(0)
			}
			return nil
		}),
		kwNo("tunnel source", func(c *ctx) *frame {
			if !tunnelOnly(c) {
				return nil
			}
			t := ifc(c).tunnel()
			if c.neg {
				t.Source, t.SourceAddr = "", netip.Addr{}
				return nil
			}
			s, ok := c.arg(0, "address, interface or dynamic")
			if !ok {
				return nil
			}
			if strings.EqualFold(s, "dynamic") {
				t.Source, t.SourceAddr = "dynamic", netip.Addr{}
				return nil
			}
			if a, err := netip.ParseAddr(s); err == nil {
				if !c.nargs(1, 1, "") {
					return nil
				}
				t.Source, t.SourceAddr = a.String(), a
				ifc(c).Refs["tunnel source"] = c.posAt(0)
				return nil
			}
			if name, ok := interfaceArg(c, 0); ok {
				t.Source, t.SourceAddr = name, netip.Addr{}
				ifc(c).Refs["tunnel source"] = c.posAt(0)
			}
			return nil
		}),
		kwNo("tunnel destination", func(c *ctx) *frame {
			if !tunnelOnly(c) {
				return nil
			}
			t := ifc(c).tunnel()
			if c.neg {
				t.Destination, t.DestAddr = "", netip.Addr{}
				return nil
			}
			s, ok := c.arg(0, "address, host name or dynamic")
			if !ok || !c.nargs(1, 1, "") {
				return nil
			}
			if strings.EqualFold(s, "dynamic") {
				t.Destination, t.DestAddr = "dynamic", netip.Addr{}
				return nil
			}
			if a, err := netip.ParseAddr(s); err == nil {
				if a.IsUnspecified() || a.IsMulticast() {
					return c.errf(0, "tunnel destination: %s is not a unicast address", a)
				}
				t.Destination, t.DestAddr = a.String(), a
				ifc(c).Refs["tunnel destination"] = c.posAt(0)
				return nil
			}
			if looksLikeDotted(s) || strings.Contains(s, ":") {
				return c.errf(0, "tunnel destination: %q is not a valid IP address", s)
			}
			t.Destination, t.DestAddr = s, netip.Addr{}
			return nil
		}),
		kwNo("tunnel mode", func(c *ctx) *frame {
			if !tunnelOnly(c) {
				return nil
			}
			t := ifc(c).tunnel()
			if c.neg {
				t.Mode = ""
				return nil
			}
			m := TunnelMode(strings.ToLower(c.rest(0)))
			switch m {
			case ModeGREIP, ModeGREIPv6, ModeGREMultipoint, ModeIPsecIPv4, ModeIPsecIPv6, ModeIPsecV4OverV6, ModeIPsecV6OverV4:
				t.Mode = m
				ifc(c).Refs["tunnel mode"] = c.posAt(0)
			default:
				return c.errf(0, "tunnel mode: %q is not supported (gre ip, gre ipv6, gre multipoint, ipsec ipv4, ipsec ipv6, ipsec ipv6 v4-overlay, ipsec ipv4 v6-overlay)", c.rest(0))
			}
			return nil
		}),
		kwNo("tunnel vrf", func(c *ctx) *frame {
			if !tunnelOnly(c) {
				return nil
			}
			t := ifc(c).tunnel()
			if c.neg {
				t.VRF = ""
				return nil
			}
			if v, ok := c.arg(0, "VRF name"); ok && c.nargs(1, 1, "") {
				t.VRF = v
				ifc(c).Refs["tunnel vrf"] = c.posAt(0)
			}
			return nil
		}),
		kwNo("tunnel key", func(c *ctx) *frame {
			if !tunnelOnly(c) {
				return nil
			}
			t := ifc(c).tunnel()
			if c.neg {
				t.Key = nil
				return nil
			}
			n, ok := c.intArg(0, 0, 4294967295, "key")
			if ok && c.nargs(1, 1, "") {
				k := uint32(n)
				t.Key = &k
			}
			return nil
		}),
		kwNo("tunnel protection ipsec profile", func(c *ctx) *frame { return tunnelProtection(c, false) }),
		kwNo("tunnel protection ipsec-profile", func(c *ctx) *frame { return tunnelProtection(c, true) }),
		kwNo("ip nhrp network-id", nhrpNetworkID),
		kwNo("ipv6 nhrp network-id", nhrpNetworkID),
		kwNo("ip nhrp redirect", nhrpRedirect),
		kwNo("ipv6 nhrp redirect", nhrpRedirect),
		kwNo("ip nhrp shortcut", nhrpShortcut),
		kwNo("ip nhrp holdtime", nhrpHoldtime),
		kwNo("ipv6 nhrp holdtime", nhrpHoldtime),
		kwNo("ipv6 nhrp shortcut", nhrpShortcut),
		kwNo("cts sgt", func(c *ctx) *frame {
			i := ifc(c)
			if c.neg {
				i.CTSSGT = 0
				return nil
			}
			if n, ok := c.intArg(0, 2, 65519, "SGT"); ok && c.nargs(1, 1, "") {
				i.CTSSGT = n
			}
			return nil
		}),
		kwNo("mpls nhrp", func(c *ctx) *frame {
			if tunnelOnly(c) {
				ifc(c).MPLSNHRP = !c.neg
			}
			return nil
		}),
		kwNo("mpls bgp forwarding", func(c *ctx) *frame { ifc(c).MPLSBGPForwarding = !c.neg; return nil }),
	}
	interfaceMode.cmds = append(interfaceMode.cmds, unimpl(
		"ip redirects", "ip unreachables", "ip unreachable", "ip proxy-arp", "ip split-horizon", "ip nhrp map", "ip nhrp nhs",
		"ip nhrp authentication", "ip nhrp registration", "ip nhrp nhs", "ipv6 nhrp map", "ipv6 nhrp nhs",
		"crypto map", "standby", "duplex", "speed", "negotiation", "ip nat", "ip ospf",
		"ipv6 ospf", "ip pim", "mpls ip", "keepalive", "bandwidth", "load-interval", "ipv6 nd", "media-type",
		"ip virtual-reassembly", "ip route-cache", "cdp", "tunnel path-mtu-discovery", "ip policy",
		"service-policy", "ip access-group", "ipv6 traffic-filter", "ip helper-address", "ip flow", "ip mask-reply",
		"ip directed-broadcast", "tunnel bandwidth", "qos", "ipv6 redirects", "ipv6 unreachables", "delay",
		"no keepalive", "ip summary-address", "ip hello-interval", "ip hold-time", "ipv6 mtu", "ipv6 tcp adjust-mss",
		"mtu", "mac-address", "ip verify", "ip dhcp", "zone-member", "ip inspect", "tunnel checksum",
		"tunnel sequence-datagrams", "ipv6 rip", "ip rip", "ip igmp", "ip mroute-cache", "snmp", "logging",
		"channel-group", "switchport", "spanning-tree", "storm-control", "platform", "arp", "carrier-delay",
		"ip multicast", "pppoe", "dialer", "ppp", "ip ddns", "ipv6 dhcp", "ip address dhcp", "flow",
	)...)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func ifVRF(c *ctx) *frame {
	i := ifc(c)
	if c.neg {
		i.VRF = ""
		return nil
	}
	if v, ok := c.arg(0, "VRF name"); ok && c.nargs(1, 1, "") {
		i.VRF = v
		i.Refs["vrf forwarding"] = c.posAt(0)
	}
	return nil
}

func tunnelProtection(c *ctx, alias bool) *frame {
	if !tunnelOnly(c) {
		return nil
	}
	t := ifc(c).tunnel()
	if c.neg {
		t.Protection, t.ProtectionAlias = "", false
		return nil
	}
	name, ok := c.arg(0, "IPsec profile name")
	if !ok || !c.nargs(1, 2, "") {
		return nil
	}
	if len(c.args) == 2 && !c.argIs(1, "shared") {
		return c.errf(1, "tunnel protection: unexpected %q", c.args[1].text)
	}
	t.Protection, t.ProtectionAlias = name, alias
	ifc(c).Refs["tunnel protection"] = c.posAt(0)
	return nil
}

func nhrpNetworkID(c *ctx) *frame {
	if !tunnelOnly(c) {
		return nil
	}
	n := ifc(c).nhrp()
	n.IPv6 = strings.EqualFold(c.kw[0].text, "ipv6")
	if c.neg {
		n.NetworkID = 0
		return nil
	}
	if v, ok := c.intArg(0, 1, 4294967295, "network id"); ok && c.nargs(1, 1, "") {
		n.NetworkID = uint32(v)
	}
	return nil
}

func nhrpRedirect(c *ctx) *frame {
	if !tunnelOnly(c) {
		return nil
	}
	n := ifc(c).nhrp()
	n.IPv6 = strings.EqualFold(c.kw[0].text, "ipv6")
	if c.neg {
		n.Redirect, n.RedirectTimeout = false, 0
		return nil
	}
	n.Redirect, n.RedirectTimeout = true, 0
	if len(c.args) > 0 {
		if !c.argIs(0, "timeout") {
			return c.errf(0, "ip nhrp redirect: expected timeout SECONDS, got %q", c.args[0].text)
		}
		if v, ok := c.intArg(1, 2, 30, "timeout"); ok && c.nargs(2, 2, "") {
			n.RedirectTimeout = v
		}
	}
	return nil
}

// nhrpHoldtime parses `ip nhrp holdtime SECONDS` (IOS range 1-65535).
func nhrpHoldtime(c *ctx) *frame {
	if !tunnelOnly(c) {
		return nil
	}
	n := ifc(c).nhrp()
	n.IPv6 = strings.EqualFold(c.kw[0].text, "ipv6")
	if c.neg {
		n.HoldTime = 0
		return nil
	}
	if v, ok := c.intArg(0, 1, 65535, "hold time"); ok && c.nargs(1, 1, "") {
		n.HoldTime = v
	}
	return nil
}

// nhrpShortcut parses `ip nhrp shortcut [virtual-template N]`. D-10: the
// command summary writes the number directly after `shortcut`; every
// configuration example writes `virtual-template N`. We accept both and
// render the examples' form.
func nhrpShortcut(c *ctx) *frame {
	if !tunnelOnly(c) {
		return nil
	}
	n := ifc(c).nhrp()
	n.IPv6 = strings.EqualFold(c.kw[0].text, "ipv6")
	if c.neg {
		n.Shortcut, n.ShortcutVT = false, 0
		return nil
	}
	n.Shortcut, n.ShortcutVT = true, 0
	i := 0
	if c.argIs(0, "virtual-template") {
		i = 1
	} else if len(c.args) > 0 && strings.HasPrefix(strings.ToLower(c.args[0].text), "virtual-template") {
		// `virtual-template1` written as one word
		rest := c.args[0].text[len("virtual-template"):]
		sub := &ctx{p: c.p, line: c.line, kw: c.kw, args: []token{{text: rest, col: c.args[0].col + len("virtual-template")}}, cmd: c.cmd}
		if v, ok := sub.intArg(0, 1, 65535, "virtual template"); ok && c.nargs(1, 1, "") {
			n.ShortcutVT = v
			ifc(c).Refs["ip nhrp shortcut"] = c.posAt(0)
		}
		return nil
	}
	if len(c.args) == i && i == 0 {
		return nil
	}
	if v, ok := c.intArg(i, 1, 65535, "virtual template"); ok && c.nargs(i+1, i+1, "") {
		n.ShortcutVT = v
		ifc(c).Refs["ip nhrp shortcut"] = c.posAt(i)
	}
	return nil
}

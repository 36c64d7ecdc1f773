package rib

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

const ipv4Codes = `Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       o - ODR, P - periodic downloaded static route, H - NHRP, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR
`

const ipv6Codes = `Codes: C - Connected, L - Local, S - Static, U - Per-user Static route
       B - BGP, HA - Home Agent, MR - Mobile Router, R - RIP
       H - NHRP, I1 - ISIS L1, I2 - ISIS L2, IA - ISIS interarea
       IS - ISIS summary, D - EIGRP, EX - EIGRP external, NM - NEMO
       ND - ND Default, NDp - ND Prefix, DCE - Destination, NDR - Redirect
       l - LISP
       O - OSPF Intra, OI - OSPF Inter, OE1 - OSPF ext 1, OE2 - OSPF ext 2
       ON1 - OSPF NSSA ext 1, ON2 - OSPF NSSA ext 2
`

// WriteIPRoute renders the IPv4 routes of vrf the way IOS 'show ip route
// [vrf V]' does: classful networks with their subnets grouped under a header
// line, the gateway of last resort, '%' on routes with an NHRP next-hop
// override, and the shortcut next hop marked [Shortcut].
func WriteIPRoute(w io.Writer, routes []Route, vrf string, now time.Time) {
	if vrf != "" {
		fmt.Fprintf(w, "\nRouting Table: %s\n", vrf)
	}
	io.WriteString(w, ipv4Codes)
	io.WriteString(w, "\n")
	var v4 []Route
	for _, r := range routes {
		if r.Prefix.Addr().Is4() {
			v4 = append(v4, r)
		}
	}
	gw := "Gateway of last resort is not set"
	for _, r := range v4 {
		if r.Prefix.Bits() == 0 {
			fh := r.Forwarding()
			if len(fh) > 0 && fh[0].Addr.IsValid() {
				gw = fmt.Sprintf("Gateway of last resort is %s to network 0.0.0.0", fh[0].Addr)
			} else if len(fh) > 0 {
				gw = fmt.Sprintf("Gateway of last resort is 0.0.0.0 to network 0.0.0.0 via %s", fh[0].Interface)
			}
		}
	}
	fmt.Fprintf(w, "%s\n\n", gw)

	// Group subnets of a classful network under one header, as IOS does.
	type group struct {
		net    netip.Prefix
		routes []Route
	}
	var order []netip.Prefix
	groups := map[netip.Prefix]*group{}
	var standalone []Route
	for _, r := range v4 {
		cb := classfulBits(r.Prefix.Addr())
		if r.Prefix.Bits() < cb {
			standalone = append(standalone, r)
			continue
		}
		cn := netip.PrefixFrom(r.Prefix.Addr(), cb).Masked()
		g := groups[cn]
		if g == nil {
			g = &group{net: cn}
			groups[cn] = g
			order = append(order, cn)
		}
		g.routes = append(g.routes, r)
	}
	// Interleave standalone routes and groups in address order.
	si, gi := 0, 0
	for si < len(standalone) || gi < len(order) {
		if gi >= len(order) || si < len(standalone) && standalone[si].Prefix.Addr().Compare(order[gi].Addr()) <= 0 {
			writeV4Route(w, standalone[si], 6, now)
			si++
			continue
		}
		g := groups[order[gi]]
		if len(g.routes) == 1 && g.routes[0].Prefix.Bits() == g.net.Bits() {
			// A classful network with no subnets prints on its own.
			writeV4Route(w, g.routes[0], 6, now)
			gi++
			continue
		}
		masks := map[int]bool{}
		for _, r := range g.routes {
			masks[r.Prefix.Bits()] = true
		}
		subnets := plural(len(g.routes), "subnet")
		if len(masks) == 1 {
			fmt.Fprintf(w, "      %s is subnetted, %s\n", g.net, subnets)
		} else {
			fmt.Fprintf(w, "      %s is variably subnetted, %s, %s\n", g.net, subnets, plural(len(masks), "mask"))
		}
		for _, r := range g.routes {
			writeV4Route(w, r, 9, now)
		}
		gi++
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func classfulBits(a netip.Addr) int {
	b := a.As4()[0]
	switch {
	case b < 128:
		return 8
	case b < 192:
		return 16
	default:
		return 24
	}
}

func writeV4Route(w io.Writer, r Route, width int, now time.Time) {
	code := r.Source.Code()
	if r.Prefix.Bits() == 0 {
		code += "*"
	}
	if r.Override != nil {
		code += "   %"
	}
	lead := fmt.Sprintf("%-*s", width, code)
	if len(lead) > width {
		lead += " "
	}
	pad := strings.Repeat(" ", len(lead)+len(r.Prefix.String())+1)
	if r.Source == Connected || r.Source == Local {
		ifname := ""
		if len(r.NextHops) > 0 {
			ifname = r.NextHops[0].Interface
		}
		fmt.Fprintf(w, "%s%s is directly connected, %s\n", lead, r.Prefix, ifname)
		return
	}
	age := ""
	if r.Source == NHRP || r.Source == BGP {
		age = ", " + FormatAge(now.Sub(r.Since))
	}
	for i, nh := range r.NextHops {
		var via string
		switch {
		case nh.Addr.IsValid() && nh.Interface != "":
			via = fmt.Sprintf("via %s%s, %s", nh.Addr, age, nh.Interface)
		case nh.Addr.IsValid():
			via = fmt.Sprintf("via %s%s", nh.Addr, age)
		default:
			via = "is directly connected" + age + ", " + nh.Interface
		}
		if i == 0 {
			if nh.Addr.IsValid() {
				fmt.Fprintf(w, "%s%s [%d/%d] %s\n", lead, r.Prefix, r.Distance, r.Metric, via)
			} else {
				fmt.Fprintf(w, "%s%s %s\n", lead, r.Prefix, via)
			}
		} else {
			fmt.Fprintf(w, "%s[%d/%d] %s\n", pad, r.Distance, r.Metric, via)
		}
	}
	if o := r.Override; o != nil {
		fmt.Fprintf(w, "%s[NHO] via %s [Shortcut]\n", pad, o)
	}
}

// WriteIPv6Route renders the IPv6 routes of vrf the way IOS 'show ipv6 route' does.
func WriteIPv6Route(w io.Writer, routes []Route, vrf string) {
	var v6 []Route
	for _, r := range routes {
		if r.Prefix.Addr().Is6() {
			v6 = append(v6, r)
		}
	}
	name := vrf
	if name == "" {
		name = "default"
	}
	entries := "entries"
	if len(v6) == 1 {
		entries = "entry"
	}
	fmt.Fprintf(w, "IPv6 Routing Table - %s - %d %s\n", name, len(v6), entries)
	io.WriteString(w, ipv6Codes)
	for _, r := range v6 {
		tag := ""
		if r.Tag != 0 {
			tag = fmt.Sprintf(", tag %d", r.Tag)
		}
		fmt.Fprintf(w, "%s %s [%d/%d]%s\n", r.Source.Code(), r.Prefix, r.Distance, r.Metric, tag)
		if o := r.Override; o != nil {
			fmt.Fprintf(w, "  via %s [Shortcut]\n", o)
		}
		for _, nh := range r.NextHops {
			switch {
			case r.Source == Local:
				fmt.Fprintf(w, "  via %s, receive\n", nh.Interface)
			case nh.Addr.IsValid() && nh.Interface != "":
				fmt.Fprintf(w, "  via %s, %s\n", nh.Addr, nh.Interface)
			case nh.Addr.IsValid():
				fmt.Fprintf(w, "  via %s\n", nh.Addr)
			default:
				fmt.Fprintf(w, "  via %s, directly connected\n", nh.Interface)
			}
		}
	}
}

// FormatAge prints a duration the way IOS does in route and SA tables:
// hh:mm:ss below a day, then 1d02h, then 2w3d.
func FormatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 86400:
		return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	case s < 7*86400:
		return fmt.Sprintf("%dd%02dh", s/86400, s/3600%24)
	default:
		return fmt.Sprintf("%dw%dd", s/(7*86400), s/86400%7)
	}
}

package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// BGP is `router bgp ASN`: the MP-BGP speaker that distributes VPNv4 routes
// and their labels (MPLS over FlexVPN, seed-features.md §21).
type BGP struct {
	ASN                uint32     `json:"asn"`
	RouterID           netip.Addr `json:"router_id,omitzero"`
	LogNeighborChanges bool       `json:"log_neighbor_changes,omitempty"`
	// NoDefaultIPv4 is `no bgp default ipv4-unicast`.
	NoDefaultIPv4 bool `json:"no_default_ipv4_unicast,omitempty"`
	// ListenRanges are `bgp listen range PREFIX peer-group NAME`: dynamic
	// neighbors accepted from those sources.
	ListenRanges []BGPListenRange `json:"listen_ranges,omitempty"`
	// ListenLimit is `bgp listen limit N` (0: the IOS default, 100).
	ListenLimit int `json:"listen_limit,omitempty"`
	// KeepaliveTime and HoldTime are `timers bgp K H` in seconds (0: 60/180).
	KeepaliveTime int `json:"keepalive,omitempty"`
	HoldTime      int `json:"holdtime,omitempty"`
	// Neighbors are the neighbors and peer groups, in configuration order.
	Neighbors []*BGPNeighbor `json:"neighbors,omitempty"`
	// VRFs are the `address-family ipv4 vrf NAME` blocks.
	VRFs []*BGPVRF `json:"vrfs,omitempty"`
	Pos  Pos       `json:"pos"`
}

// BGPListenRange is one `bgp listen range`.
type BGPListenRange struct {
	Prefix    netip.Prefix `json:"prefix"`
	PeerGroup string       `json:"peer_group"`
	Pos       Pos          `json:"pos"`
}

// BGPNeighbor is a neighbor (by address) or a peer group (by name) and what
// the `neighbor X ...` lines say about it, in every address family.
type BGPNeighbor struct {
	// Name is the address as written, or the peer group's name.
	Name string     `json:"name"`
	Addr netip.Addr `json:"addr,omitzero"`
	// IsGroup is `neighbor NAME peer-group` (the group's definition).
	IsGroup bool `json:"peer_group_definition,omitempty"`
	// Group is `neighbor ADDR peer-group NAME` (membership).
	Group        string `json:"peer_group,omitempty"`
	RemoteAS     uint32 `json:"remote_as,omitempty"`
	Description  string `json:"description,omitempty"`
	UpdateSource string `json:"update_source,omitempty"`
	// EBGPMultihop is `ebgp-multihop [N]` (255 without N).
	EBGPMultihop int  `json:"ebgp_multihop,omitempty"`
	Passive      bool `json:"passive,omitempty"`
	Shutdown     bool `json:"shutdown,omitempty"`
	// Password is `password [0] SECRET` (TCP MD5).
	Password Secret `json:"password,omitzero"`
	// IPv4 and VPNv4 say whether the neighbor is activated in the ipv4
	// unicast and vpnv4 address families.
	IPv4  bool `json:"ipv4_activate,omitempty"`
	VPNv4 bool `json:"vpnv4_activate,omitempty"`
	// SendCommunity is "", "standard", "extended" or "both" (vpnv4).
	SendCommunity string `json:"send_community,omitempty"`
	NextHopSelf   bool   `json:"next_hop_self,omitempty"`
	Pos           Pos    `json:"pos"`
}

// BGPVRF is `address-family ipv4 vrf NAME` under router bgp: what the VRF
// contributes to VPNv4.
type BGPVRF struct {
	Name                  string `json:"name"`
	RedistributeConnected bool   `json:"redistribute_connected,omitempty"`
	RedistributeStatic    bool   `json:"redistribute_static,omitempty"`
	// Networks are `network A.B.C.D mask M` lines.
	Networks []netip.Prefix `json:"networks,omitempty"`
	Pos      Pos            `json:"pos"`
}

// Neighbor returns the neighbor or peer group called name, or nil.
func (b *BGP) Neighbor(name string) *BGPNeighbor {
	if b == nil {
		return nil
	}
	return find(b.Neighbors, func(n *BGPNeighbor) string { return n.Name }, name)
}

// Effective returns n with its peer group's settings filled in where n
// leaves them unset (IOS peer-group inheritance).
func (b *BGP) Effective(n *BGPNeighbor) BGPNeighbor {
	out := *n
	g := b.Neighbor(n.Group)
	if g == nil || !g.IsGroup {
		return out
	}
	if out.RemoteAS == 0 {
		out.RemoteAS = g.RemoteAS
	}
	if out.UpdateSource == "" {
		out.UpdateSource = g.UpdateSource
	}
	if out.EBGPMultihop == 0 {
		out.EBGPMultihop = g.EBGPMultihop
	}
	if out.SendCommunity == "" {
		out.SendCommunity = g.SendCommunity
	}
	if !out.Password.IsSet() {
		out.Password = g.Password
	}
	out.Passive = out.Passive || g.Passive
	out.IPv4 = out.IPv4 || g.IPv4
	out.VPNv4 = out.VPNv4 || g.VPNv4
	out.NextHopSelf = out.NextHopSelf || g.NextHopSelf
	return out
}

// VRF returns the `address-family ipv4 vrf NAME` block for name, or nil.
func (b *BGP) VRF(name string) *BGPVRF {
	if b == nil {
		return nil
	}
	return find(b.VRFs, func(v *BGPVRF) string { return v.Name }, name)
}

var (
	routerBGPMode = &mode{name: "config-router", what: "router bgp", flushReopen: true}
	bgpAFMode     = &mode{name: "config-router-af", what: "router bgp address-family", flushReopen: true}
)

// bgpAF is the frame object of an address-family block.
type bgpAF struct {
	b   *BGP
	af  string // "ipv4", "vpnv4" or "vrf"
	vrf *BGPVRF
}

// init appends to globalMode.cmds, which grammar_global.go's init sets:
// Go runs a package's init functions in file-name order, so this file's
// name must sort after grammar_global.go.
func init() {
	globalMode.cmds = append(globalMode.cmds, kwNo("router bgp", func(c *ctx) *frame {
		n, ok := c.asnArg(0)
		if !ok || !c.nargs(1, 1, "") {
			return nil
		}
		cfg := c.p.cfg
		if c.neg {
			if cfg.BGP != nil && cfg.BGP.ASN == n {
				cfg.BGP = nil
			}
			return nil
		}
		if cfg.BGP != nil && cfg.BGP.ASN != n {
			return c.errf(0, "router bgp %d: BGP is already running with AS %d (at %s)", n, cfg.BGP.ASN, cfg.BGP.Pos)
		}
		if cfg.BGP == nil {
			cfg.BGP = &BGP{ASN: n, Pos: c.posAt(0)}
		}
		return &frame{mode: routerBGPMode, obj: cfg.BGP}
	}))

	routerBGPMode.cmds = []*cmd{
		kwNo("bgp router-id", func(c *ctx) *frame {
			b := c.frame.obj.(*BGP)
			if c.neg {
				b.RouterID = netip.Addr{}
				return nil
			}
			if a, ok := c.addr4Arg(0, "router id"); ok && c.nargs(1, 1, "") {
				b.RouterID = a
			}
			return nil
		}),
		kwNo("bgp log-neighbor-changes", func(c *ctx) *frame { c.frame.obj.(*BGP).LogNeighborChanges = !c.neg; return nil }),
		kwNo("bgp default ipv4-unicast", func(c *ctx) *frame { c.frame.obj.(*BGP).NoDefaultIPv4 = c.neg; return nil }),
		kwNo("bgp listen range", func(c *ctx) *frame {
			b := c.frame.obj.(*BGP)
			s, ok := c.arg(0, "prefix")
			if !ok {
				return nil
			}
			p, err := netip.ParsePrefix(s)
			if err != nil || !p.Addr().Is4() {
				return c.errf(0, "bgp listen range: %q is not an IPv4 prefix (A.B.C.D/N)", s)
			}
			if !c.argIs(1, "peer-group") {
				return c.errf(1, "bgp listen range: expected peer-group NAME")
			}
			g, ok := c.arg(2, "peer group name")
			if !ok || !c.nargs(3, 3, "") {
				return nil
			}
			b.ListenRanges = slices.DeleteFunc(b.ListenRanges, func(r BGPListenRange) bool { return r.Prefix == p.Masked() })
			if !c.neg {
				b.ListenRanges = append(b.ListenRanges, BGPListenRange{Prefix: p.Masked(), PeerGroup: g, Pos: c.posAt(0)})
			}
			return nil
		}),
		kwNo("bgp listen limit", func(c *ctx) *frame {
			b := c.frame.obj.(*BGP)
			if c.neg {
				b.ListenLimit = 0
				return nil
			}
			if n, ok := c.intArg(0, 1, 5000, "limit"); ok && c.nargs(1, 1, "") {
				b.ListenLimit = n
			}
			return nil
		}),
		kwNo("timers bgp", func(c *ctx) *frame {
			b := c.frame.obj.(*BGP)
			if c.neg {
				b.KeepaliveTime, b.HoldTime = 0, 0
				return nil
			}
			k, ok := c.intArg(0, 0, 65535, "keepalive")
			if !ok {
				return nil
			}
			h, ok := c.intArg(1, 0, 65535, "holdtime")
			if !ok || !c.nargs(2, 3, "") {
				return nil
			}
			if h != 0 && h < 3 {
				return c.errf(1, "timers bgp: holdtime must be 0 or at least 3 seconds")
			}
			b.KeepaliveTime, b.HoldTime = k, h
			return nil
		}),
		kwNo("neighbor", func(c *ctx) *frame { return bgpNeighborCmd(c, c.frame.obj.(*BGP), "ipv4") }),
		kw("address-family", func(c *ctx) *frame {
			b := c.frame.obj.(*BGP)
			af, ok := c.arg(0, "ipv4 or vpnv4")
			if !ok {
				return nil
			}
			switch strings.ToLower(af) {
			case "vpnv4":
				if !c.nargs(1, 2, "") || (len(c.args) == 2 && !c.argIs(1, "unicast")) {
					return c.errf(1, "address-family vpnv4: unexpected %q", c.rest(1))
				}
				return &frame{mode: bgpAFMode, obj: &bgpAF{b: b, af: "vpnv4"}}
			case "ipv4":
				if c.argIs(1, "vrf") {
					name, ok := c.arg(2, "VRF name")
					if !ok || !c.nargs(3, 3, "") {
						return nil
					}
					v := b.VRF(name)
					if v == nil {
						v = &BGPVRF{Name: name, Pos: c.posAt(2)}
						b.VRFs = append(b.VRFs, v)
					}
					return &frame{mode: bgpAFMode, obj: &bgpAF{b: b, af: "vrf", vrf: v}}
				}
				if !c.nargs(1, 2, "") || (len(c.args) == 2 && !c.argIs(1, "unicast")) {
					return c.errf(1, "address-family ipv4: unexpected %q", c.rest(1))
				}
				return &frame{mode: bgpAFMode, obj: &bgpAF{b: b, af: "ipv4"}}
			}
			c.warnUnimpl(0, "address-family "+c.rest(0))
			return &frame{mode: bgpAFMode, obj: &bgpAF{b: b, af: "other"}}
		}),
	}
	routerBGPMode.cmds = append(routerBGPMode.cmds, unimpl("bgp graceful-restart", "bgp bestpath",
		"bgp deterministic-med", "bgp always-compare-med", "bgp cluster-id", "bgp update-delay",
		"distance", "maximum-paths", "synchronization", "auto-summary", "network", "redistribute",
		"default-information", "bgp fast-external-fallover", "bgp nexthop")...)

	bgpAFMode.cmds = []*cmd{
		kw("exit-address-family", func(c *ctx) *frame { return nil }),
		kwNo("neighbor", func(c *ctx) *frame {
			a := c.frame.obj.(*bgpAF)
			if a.af == "vrf" {
				c.warnUnimpl(0, "neighbor in address-family ipv4 vrf (PE-CE BGP)")
				return nil
			}
			return bgpNeighborCmd(c, a.b, a.af)
		}),
		kwNo("redistribute", func(c *ctx) *frame {
			a := c.frame.obj.(*bgpAF)
			what, ok := c.arg(0, "connected or static")
			if !ok {
				return nil
			}
			if a.af != "vrf" {
				c.warnUnimpl(0, "redistribute outside address-family ipv4 vrf")
				return nil
			}
			if len(c.args) > 1 {
				// `route-map NAME`: route maps are not implemented; the
				// whole source is redistributed.
				if !c.argIs(1, "route-map") || len(c.args) != 3 {
					return c.errf(1, "redistribute %s: unexpected %q", what, c.rest(1))
				}
				c.warnUnimpl(1, "redistribute ... route-map")
			}
			switch strings.ToLower(what) {
			case "connected":
				a.vrf.RedistributeConnected = !c.neg
			case "static":
				a.vrf.RedistributeStatic = !c.neg
			default:
				c.warnUnimpl(0, "redistribute "+what)
			}
			return nil
		}),
		kwNo("network", func(c *ctx) *frame {
			a := c.frame.obj.(*bgpAF)
			if a.af != "vrf" {
				c.warnUnimpl(0, "network outside address-family ipv4 vrf")
				return nil
			}
			addr, ok := c.addr4Arg(0, "network")
			if !ok {
				return nil
			}
			bits := 32
			if len(c.args) > 1 {
				if !c.argIs(1, "mask") {
					return c.errf(1, "network: expected mask M")
				}
				n, ok := c.maskArg(2)
				if !ok || !c.nargs(3, 3, "") {
					return nil
				}
				bits = n
			} else if addr.As4()[3] == 0 {
				// classful default, as IOS does without `mask`
				switch a4 := addr.As4(); {
				case a4[0] < 128:
					bits = 8
				case a4[0] < 192:
					bits = 16
				default:
					bits = 24
				}
			}
			p := netip.PrefixFrom(addr, bits).Masked()
			a.vrf.Networks = slices.DeleteFunc(a.vrf.Networks, func(q netip.Prefix) bool { return q == p })
			if !c.neg {
				a.vrf.Networks = append(a.vrf.Networks, p)
			}
			return nil
		}),
	}
	bgpAFMode.cmds = append(bgpAFMode.cmds, unimpl("default-information", "maximum-paths", "distance",
		"bgp", "import", "export", "aggregate-address", "synchronization", "auto-summary")...)
	allModes = append(allModes, routerBGPMode, bgpAFMode)
}

// asnArg parses an AS number: plain (1-4294967295) or asdot (X.Y).
func (c *ctx) asnArg(i int) (uint32, bool) {
	s, ok := c.arg(i, "AS number")
	if !ok {
		return 0, false
	}
	n, err := parseASN(s)
	if err != nil {
		c.errf(i, "%s: %q is not an AS number (1-4294967295 or X.Y)", c.what(), s)
		return 0, false
	}
	return n, true
}

func parseASN(s string) (uint32, error) {
	if hi, lo, ok := strings.Cut(s, "."); ok {
		h, err := strconv.ParseUint(hi, 10, 16)
		if err != nil {
			return 0, err
		}
		l, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return 0, err
		}
		if h == 0 && l == 0 {
			return 0, strconv.ErrRange
		}
		return uint32(h<<16 | l), nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || strings.HasPrefix(s, "+") {
		return 0, strconv.ErrSyntax
	}
	return uint32(n), nil
}

// bgpNeighborCmd applies `neighbor X ...` in router bgp (af "ipv4", where
// IOS puts the session settings and the ipv4 activation) or in an
// address-family block.
func bgpNeighborCmd(c *ctx, b *BGP, af string) *frame {
	name, ok := c.arg(0, "neighbor address or peer group")
	if !ok {
		return nil
	}
	what, ok := c.arg(1, "neighbor sub-command")
	if !ok {
		return nil
	}
	what = strings.ToLower(what)
	n := b.Neighbor(name)
	addr, aerr := netip.ParseAddr(name)
	define := func() *BGPNeighbor {
		if n == nil {
			n = &BGPNeighbor{Name: name, Pos: c.posAt(0)}
			if aerr == nil {
				n.Addr = addr
			}
			b.Neighbors = append(b.Neighbors, n)
		}
		return n
	}
	// Session settings exist only in router bgp mode; IOS accepts them
	// in the ipv4 family too (the legacy layout).
	session := af == "ipv4"
	switch what {
	case "remote-as":
		if !session {
			return c.errf(1, "neighbor %s remote-as: belongs in router bgp, not in an address family", name)
		}
		if c.neg {
			if n != nil {
				n.RemoteAS = 0
			}
			return nil
		}
		asn, ok := c.asnArg(2)
		if !ok || !c.nargs(3, 3, "") {
			return nil
		}
		define().RemoteAS = asn
	case "peer-group":
		if len(c.args) == 2 {
			if aerr == nil {
				return c.errf(0, "neighbor %s peer-group: a peer group needs a name, not an address", name)
			}
			if c.neg {
				b.Neighbors = slices.DeleteFunc(b.Neighbors, func(x *BGPNeighbor) bool { return x.Name == name || x.Group == name })
				return nil
			}
			define().IsGroup = true
			return nil
		}
		g, ok := c.arg(2, "peer group name")
		if !ok || !c.nargs(3, 3, "") {
			return nil
		}
		if aerr != nil {
			return c.errf(0, "neighbor %s peer-group %s: members are addresses", name, g)
		}
		if c.neg {
			if n != nil {
				n.Group = ""
			}
			return nil
		}
		if gr := b.Neighbor(g); gr == nil || !gr.IsGroup {
			return c.errf(2, "neighbor %s peer-group %s: no such peer group (define it with neighbor %s peer-group)", name, g, g)
		}
		define().Group = g
	case "description":
		if !c.neg {
			define().Description = c.rest(2)
		} else if n != nil {
			n.Description = ""
		}
	case "update-source":
		if c.neg {
			if n != nil {
				n.UpdateSource = ""
			}
			return nil
		}
		ifn, ok := c.arg(2, "interface")
		if !ok || !c.nargs(3, 3, "") {
			return nil
		}
		if cn, _, _, ok := canonicalInterface(ifn); ok {
			ifn = cn
		}
		define().UpdateSource = ifn
	case "ebgp-multihop":
		if c.neg {
			if n != nil {
				n.EBGPMultihop = 0
			}
			return nil
		}
		hops := 255
		if len(c.args) > 2 {
			h, ok := c.intArg(2, 1, 255, "hop count")
			if !ok || !c.nargs(3, 3, "") {
				return nil
			}
			hops = h
		}
		define().EBGPMultihop = hops
	case "transport":
		if !c.argIs(2, "connection-mode") || !c.nargs(4, 4, "connection-mode passive|active") {
			return c.errf(2, "neighbor %s transport: expected connection-mode passive or active", name)
		}
		switch {
		case c.argIs(3, "passive"):
			define().Passive = !c.neg
		case c.argIs(3, "active"):
			define().Passive = false
		default:
			return c.errf(3, "neighbor %s transport connection-mode: expected passive or active", name)
		}
	case "shutdown":
		define().Shutdown = !c.neg
	case "password":
		if c.neg {
			if n != nil {
				n.Password = Secret{}
			}
			return nil
		}
		s, ok := c.secret(2)
		if !ok {
			return nil
		}
		define().Password = s
	case "activate":
		if !c.nargs(2, 2, "") {
			return nil
		}
		nb := define()
		switch af {
		case "vpnv4":
			nb.VPNv4 = !c.neg
		case "ipv4":
			nb.IPv4 = !c.neg
		}
	case "send-community":
		kind := "standard"
		if len(c.args) > 2 {
			kind = strings.ToLower(c.args[2].text)
			if kind != "standard" && kind != "extended" && kind != "both" || !c.nargs(3, 3, "") {
				return c.errf(2, "neighbor %s send-community: expected standard, extended or both", name)
			}
		}
		if c.neg {
			if n != nil {
				n.SendCommunity = ""
			}
			return nil
		}
		define().SendCommunity = kind
	case "next-hop-self":
		if !c.nargs(2, 3, "") {
			return nil
		}
		define().NextHopSelf = !c.neg
	case "route-map", "soft-reconfiguration", "default-originate", "timers", "version", "fall-over", "allowas-in",
		"as-override", "route-reflector-client", "maximum-prefix", "ttl-security", "local-as",
		"disable-connected-check", "advertisement-interval", "weight", "prefix-list", "filter-list":
		c.warnUnimpl(1, "neighbor "+what)
	default:
		return c.errf(1, "neighbor %s: unknown sub-command %q", name, c.args[1].text)
	}
	return nil
}

// validateBGP checks what only the whole configuration can tell: neighbors
// have a remote AS (their own or their group's), listen ranges name peer
// groups, VRF blocks name defined VRFs with a route distinguisher.
func (p *parser) validateBGP() {
	b := p.cfg.BGP
	if b == nil {
		return
	}
	for _, n := range b.Neighbors {
		e := b.Effective(n)
		if e.RemoteAS == 0 && !n.IsGroup {
			p.errorf(n.Pos, "neighbor %s: no remote-as (configure neighbor %s remote-as ASN or a peer group with one)", n.Name, n.Name)
			p.lineErr = false
		}
		if !n.IsGroup && !n.Addr.IsValid() {
			p.errorf(n.Pos, "neighbor %s: not an address, and not defined as a peer group", n.Name)
			p.lineErr = false
		}
		if e.UpdateSource != "" && p.cfg.Interface(e.UpdateSource) == nil {
			p.warnf(n.Pos, "neighbor %s update-source %s: no such interface", n.Name, e.UpdateSource)
		}
	}
	for _, r := range b.ListenRanges {
		if g := b.Neighbor(r.PeerGroup); g == nil || !g.IsGroup {
			p.errorf(r.Pos, "bgp listen range %s: peer group %s is not defined", r.Prefix, r.PeerGroup)
			p.lineErr = false
		} else if g.RemoteAS == 0 {
			p.errorf(r.Pos, "bgp listen range %s: peer group %s has no remote-as", r.Prefix, r.PeerGroup)
			p.lineErr = false
		}
	}
	for _, v := range b.VRFs {
		vd := p.cfg.VRF(v.Name)
		switch {
		case vd == nil:
			p.errorf(v.Pos, "address-family ipv4 vrf %s: VRF %s is not defined (vrf definition %s)", v.Name, v.Name, v.Name)
			p.lineErr = false
		case vd.RD == "":
			p.errorf(v.Pos, "address-family ipv4 vrf %s: VRF %s has no rd (VPNv4 routes need a route distinguisher)", v.Name, v.Name)
			p.lineErr = false
		}
	}
}

func renderBGP(w *writer, b *BGP) {
	if b == nil {
		return
	}
	w.line("router bgp %d", b.ASN)
	if b.RouterID.IsValid() {
		w.line(" bgp router-id %s", b.RouterID)
	}
	if b.LogNeighborChanges {
		w.line(" bgp log-neighbor-changes")
	}
	if b.NoDefaultIPv4 {
		w.line(" no bgp default ipv4-unicast")
	}
	for _, r := range b.ListenRanges {
		w.line(" bgp listen range %s peer-group %s", r.Prefix, q(r.PeerGroup))
	}
	if b.ListenLimit != 0 {
		w.line(" bgp listen limit %d", b.ListenLimit)
	}
	if b.KeepaliveTime != 0 || b.HoldTime != 0 {
		w.line(" timers bgp %d %d", b.KeepaliveTime, b.HoldTime)
	}
	// Groups first, so that members can refer to them.
	ordered := slices.Clone(b.Neighbors)
	slices.SortStableFunc(ordered, func(x, y *BGPNeighbor) int {
		switch {
		case x.IsGroup == y.IsGroup:
			return 0
		case x.IsGroup:
			return -1
		}
		return 1
	})
	for _, n := range ordered {
		name := q(n.Name)
		if n.IsGroup {
			w.line(" neighbor %s peer-group", name)
		}
		if n.RemoteAS != 0 {
			w.line(" neighbor %s remote-as %d", name, n.RemoteAS)
		}
		if n.Group != "" {
			w.line(" neighbor %s peer-group %s", name, q(n.Group))
		}
		if n.Description != "" {
			w.line(" neighbor %s description %s", name, n.Description)
		}
		if n.Password.IsSet() {
			w.line(" neighbor %s password %s", name, renderSecret(n.Password))
		}
		if n.Passive {
			w.line(" neighbor %s transport connection-mode passive", name)
		}
		if n.UpdateSource != "" {
			w.line(" neighbor %s update-source %s", name, n.UpdateSource)
		}
		if n.EBGPMultihop != 0 {
			w.line(" neighbor %s ebgp-multihop %d", name, n.EBGPMultihop)
		}
		if n.Shutdown {
			w.line(" neighbor %s shutdown", name)
		}
	}
	w.line(" !")
	w.line(" address-family ipv4")
	for _, n := range ordered {
		if n.IPv4 {
			w.line("  neighbor %s activate", q(n.Name))
		}
	}
	w.line(" exit-address-family")
	w.line(" !")
	w.line(" address-family vpnv4")
	for _, n := range ordered {
		if n.VPNv4 {
			w.line("  neighbor %s activate", q(n.Name))
		}
		if n.SendCommunity != "" {
			w.line("  neighbor %s send-community %s", q(n.Name), n.SendCommunity)
		}
		if n.NextHopSelf {
			w.line("  neighbor %s next-hop-self", q(n.Name))
		}
	}
	w.line(" exit-address-family")
	for _, v := range b.VRFs {
		w.line(" !")
		w.line(" address-family ipv4 vrf %s", q(v.Name))
		if v.RedistributeConnected {
			w.line("  redistribute connected")
		}
		if v.RedistributeStatic {
			w.line("  redistribute static")
		}
		for _, p := range v.Networks {
			m := netip.AddrFrom4([4]byte(net4Mask(p.Bits())))
			w.line("  network %s mask %s", p.Addr(), m)
		}
		w.line(" exit-address-family")
	}
	w.bang()
}

func net4Mask(bits int) []byte {
	m := uint32(0)
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

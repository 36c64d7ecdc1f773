package config

import (
	"slices"
	"strconv"
	"strings"
)

// Cisco TrustSec role-based access control (seed-features.md §25 and IOS's
// "cts role-based" commands):
//
//	cts role-based enforcement
//	cts role-based permissions from {SGT | unknown} to {SGT | unknown} [ipv4 | ipv6] RBACL...
//	cts role-based permissions default [ipv4 | ipv6] RBACL...
//	ip access-list role-based NAME
//	 [SEQ] {permit | deny} PROTOCOL [src OP PORT [PORT]] [dst OP PORT [PORT]] [log]
//	ipv6 access-list role-based NAME
//	 ...
//	interface ...
//	 cts manual
//	  [no] propagate sgt

var (
	rbACLMode   = &mode{name: "config-rb-acl", what: "ip access-list role-based"}
	rbACL6Mode  = &mode{name: "config-ipv6-rb-acl", what: "ipv6 access-list role-based"}
	ctsManualMd = &mode{name: "config-if-cts-manual", what: "cts manual"}
)

// CTS holds the global TrustSec role-based access control configuration.
type CTS struct {
	// Enforcement turns the permissions matrix on (cts role-based
	// enforcement); without it the matrix is configuration only.
	Enforcement bool            `json:"enforcement,omitempty"`
	Permissions []*RBPermission `json:"permissions,omitempty"`
	Pos         Pos             `json:"pos"`
}

// UnknownSGT is the tag of traffic no mapping classifies ("unknown").
const UnknownSGT = 0

// RBPermission is one `cts role-based permissions` line: the role-based
// ACLs of one cell of the matrix, or of the default (Default set).
type RBPermission struct {
	Default bool `json:"default,omitempty"`
	// From and To are the source and destination SGTs (UnknownSGT for
	// "unknown").
	From int `json:"from"`
	To   int `json:"to"`
	// IPv6 selects the ipv6 keyword: the ACLs are `ipv6 access-list
	// role-based` lists.
	IPv6 bool     `json:"ipv6,omitempty"`
	ACLs []string `json:"acls"`
	Pos  Pos      `json:"pos"`
}

// RoleBasedACL is `ip access-list role-based NAME` or, with IPv6,
// `ipv6 access-list role-based NAME`.
type RoleBasedACL struct {
	Name    string  `json:"name"`
	IPv6    bool    `json:"ipv6,omitempty"`
	Entries []RBACE `json:"entries"`
	Pos     Pos     `json:"pos"`
}

// RBACE is one entry of a role-based ACL. Protocol is "ip" (or "ipv6"),
// "icmp", "tcp", "udp", or a protocol number; Src and Dst are port
// conditions for tcp and udp.
type RBACE struct {
	Permit   bool       `json:"permit"`
	Protocol string     `json:"protocol"`
	Src      *PortMatch `json:"src,omitempty"`
	Dst      *PortMatch `json:"dst,omitempty"`
	Log      bool       `json:"log,omitempty"`
	Pos      Pos        `json:"pos"`
}

// PortMatch is an ACL port condition: Op is eq, neq, gt, lt or range
// (with two ports).
type PortMatch struct {
	Op    string `json:"op"`
	Ports []int  `json:"ports"`
}

// Range returns the condition as an inclusive range, inverted by not.
func (m *PortMatch) Range() (lo, hi int, not bool) {
	switch m.Op {
	case "eq":
		return m.Ports[0], m.Ports[0], false
	case "neq":
		return m.Ports[0], m.Ports[0], true
	case "gt":
		return m.Ports[0] + 1, 65535, false
	case "lt":
		return 0, m.Ports[0] - 1, false
	}
	return m.Ports[0], m.Ports[1], false
}

func (m *PortMatch) render() string {
	s := m.Op
	for _, p := range m.Ports {
		s += " " + strconv.Itoa(p)
	}
	return s
}

// CTSManual is an interface's `cts manual` block.
type CTSManual struct {
	// NoPropagate is `no propagate sgt`: the interface's tunnels never
	// carry tags, even when IKEv2 negotiated them.
	NoPropagate bool `json:"no_propagate_sgt,omitempty"`
	// StaticSGT is `policy static sgt N [trusted]`: the tag of traffic
	// received on the interface, replacing the peer's tags unless Trusted.
	StaticSGT int  `json:"static_sgt,omitempty"`
	Trusted   bool `json:"trusted,omitempty"`
	Pos       Pos  `json:"pos"`
}

// RoleBasedACL returns the role-based ACL called name of the family, or nil.
func (c *Config) RoleBasedACL(name string, v6 bool) *RoleBasedACL {
	for _, a := range c.RoleBasedACLs {
		if a.Name == name && a.IPv6 == v6 {
			return a
		}
	}
	return nil
}

// ProtocolNumber returns the IP protocol an entry matches and whether it
// matches every protocol ("ip" or "ipv6"). icmp means ICMPv6 in IPv6 lists.
func (e RBACE) ProtocolNumber(v6 bool) (proto uint8, any bool) {
	switch e.Protocol {
	case "ip", "ipv6":
		return 0, true
	case "icmp":
		if v6 {
			return 58, false
		}
		return 1, false
	case "tcp":
		return 6, false
	case "udp":
		return 17, false
	}
	n, _ := strconv.Atoi(e.Protocol)
	return uint8(n), false
}

func ctsInit() {
	globalMode.cmds = append(globalMode.cmds,
		kwNo("cts role-based enforcement", func(c *ctx) *frame {
			if c.nargs(0, 0, "") {
				c.p.cfg.CTS.Enforcement = !c.neg
				if !c.neg {
					c.p.cfg.CTS.Pos = c.pos()
				}
			}
			return nil
		}),
		kwNo("cts role-based permissions", rbPermissions),
		kwNo("ip access-list role-based", func(c *ctx) *frame { return rbACLCmd(c, false) }),
		kwNo("ipv6 access-list role-based", func(c *ctx) *frame { return rbACLCmd(c, true) }),
	)
	for _, m := range []*mode{rbACLMode, rbACL6Mode} {
		m.cmds = []*cmd{
			kw("permit", rbACECmd),
			kw("deny", rbACECmd),
			kw("remark", func(c *ctx) *frame { return nil }),
		}
	}
	interfaceMode.cmds = append(interfaceMode.cmds, kwNo("cts manual", func(c *ctx) *frame {
		i := ifc(c)
		if !c.nargs(0, 0, "") {
			return nil
		}
		if c.neg {
			i.CTSManual = nil
			return nil
		}
		if i.CTSManual == nil {
			i.CTSManual = &CTSManual{Pos: c.pos()}
		}
		return &frame{mode: ctsManualMd, obj: i.CTSManual}
	}))
	ctsManualMd.cmds = []*cmd{
		kwNo("propagate sgt", func(c *ctx) *frame {
			if c.nargs(0, 0, "") {
				c.frame.obj.(*CTSManual).NoPropagate = c.neg
			}
			return nil
		}),
	}
	ctsManualMd.cmds = append(ctsManualMd.cmds, kwNo("policy static sgt", func(c *ctx) *frame {
		m := c.frame.obj.(*CTSManual)
		if c.neg {
			m.StaticSGT, m.Trusted = 0, false
			return nil
		}
		n, ok := c.intArg(0, 2, 65519, "SGT")
		if !ok || !c.nargs(1, 2, "") {
			return nil
		}
		if len(c.args) == 2 && !c.argIs(1, "trusted") {
			return c.errf(1, "policy static sgt: expected trusted, got %q", c.args[1].text)
		}
		m.StaticSGT, m.Trusted = n, len(c.args) == 2
		return nil
	}))
	ctsManualMd.cmds = append(ctsManualMd.cmds, unimpl("policy dynamic identity", "sap")...)
	allModes = append(allModes, rbACLMode, rbACL6Mode, ctsManualMd)
}

// sgtArg parses an SGT (2-65519) or "unknown" at argument i.
func sgtArg(c *ctx, i int) (int, bool) {
	if c.argIs(i, "unknown") {
		return UnknownSGT, true
	}
	return c.intArg(i, 2, 65519, "SGT")
}

func rbPermissions(c *ctx) *frame {
	p := &RBPermission{Pos: c.pos()}
	i := 0
	switch {
	case c.argIs(0, "default"):
		p.Default, i = true, 1
	case c.argIs(0, "from"):
		from, ok := sgtArg(c, 1)
		if !ok {
			return nil
		}
		if !c.argIs(2, "to") {
			return c.errf(2, "cts role-based permissions: expected to SGT")
		}
		to, ok := sgtArg(c, 3)
		if !ok {
			return nil
		}
		p.From, p.To, i = from, to, 4
	default:
		return c.errf(0, "cts role-based permissions: expected default or from SGT to SGT")
	}
	switch {
	case c.argIs(i, "ipv4"):
		i++
	case c.argIs(i, "ipv6"):
		p.IPv6, i = true, i+1
	}
	for ; i < len(c.args); i++ {
		p.ACLs = append(p.ACLs, c.args[i].text)
	}
	cts := &c.p.cfg.CTS
	same := func(x *RBPermission) bool {
		return x.Default == p.Default && x.From == p.From && x.To == p.To && x.IPv6 == p.IPv6
	}
	if c.neg {
		cts.Permissions = slices.DeleteFunc(cts.Permissions, same)
		return nil
	}
	if len(p.ACLs) == 0 {
		return c.errf(i, "cts role-based permissions: expected the name of a role-based access list")
	}
	if k := slices.IndexFunc(cts.Permissions, same); k >= 0 {
		cts.Permissions[k] = p // IOS replaces the cell's list
		return nil
	}
	cts.Permissions = append(cts.Permissions, p)
	return nil
}

func rbACLCmd(c *ctx, v6 bool) *frame {
	name, ok := c.arg(0, "access list name")
	if !ok || !c.nargs(1, 1, "") {
		return nil
	}
	cfg := c.p.cfg
	if c.neg {
		cfg.RoleBasedACLs = slices.DeleteFunc(cfg.RoleBasedACLs, func(a *RoleBasedACL) bool { return a.Name == name && a.IPv6 == v6 })
		return nil
	}
	a := cfg.RoleBasedACL(name, v6)
	if a == nil {
		a = &RoleBasedACL{Name: name, IPv6: v6, Pos: c.posAt(0)}
		cfg.RoleBasedACLs = append(cfg.RoleBasedACLs, a)
	}
	m := rbACLMode
	if v6 {
		m = rbACL6Mode
	}
	return &frame{mode: m, obj: a}
}

// rbACECmd parses `{permit | deny} PROTOCOL [src OP P [P]] [dst OP P [P]] [log]`.
func rbACECmd(c *ctx) *frame {
	a := c.frame.obj.(*RoleBasedACL)
	e := RBACE{Permit: strings.EqualFold(c.kw[0].text, "permit"), Pos: c.pos()}
	proto, ok := c.arg(0, "protocol")
	if !ok {
		return nil
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "ip", "icmp", "tcp", "udp":
	case "ipv6":
		if !a.IPv6 {
			return c.errf(0, "%s: ipv6 in an IPv4 role-based access list; use ip", c.kw[0].text)
		}
	default:
		n, err := strconv.Atoi(proto)
		if err != nil || n < 0 || n > 255 {
			return c.errf(0, "%s: protocol %q: want ip, icmp, tcp, udp or 0-255", c.kw[0].text, proto)
		}
		proto = strconv.Itoa(n)
	}
	if a.IPv6 && proto == "ip" {
		proto = "ipv6"
	}
	e.Protocol = proto
	i := 1
	for i < len(c.args) {
		switch {
		case c.argIs(i, "src") || c.argIs(i, "dst"):
			if proto != "tcp" && proto != "udp" {
				return c.errf(i, "%s: port conditions need tcp or udp", c.kw[0].text)
			}
			m, n, ok := portMatch(c, i+1)
			if !ok {
				return nil
			}
			if c.argIs(i, "src") {
				if e.Src != nil {
					return c.errf(i, "%s: src given twice", c.kw[0].text)
				}
				e.Src = m
			} else {
				if e.Dst != nil {
					return c.errf(i, "%s: dst given twice", c.kw[0].text)
				}
				e.Dst = m
			}
			i += 1 + n
		case c.argIs(i, "log"):
			e.Log, i = true, i+1
		default:
			return c.errf(i, "%s: unexpected %q (want src, dst or log)", c.kw[0].text, c.args[i].text)
		}
	}
	a.Entries = append(a.Entries, e)
	return nil
}

// portMatch parses `OP PORT [PORT]` at argument i and returns how many
// arguments it used.
func portMatch(c *ctx, i int) (*PortMatch, int, bool) {
	op, ok := c.arg(i, "eq, neq, gt, lt or range")
	if !ok {
		return nil, 0, false
	}
	op = strings.ToLower(op)
	m := &PortMatch{Op: op}
	n := 1
	switch op {
	case "eq", "neq", "gt", "lt":
	case "range":
		n = 2
	default:
		c.errf(i, "port condition %q: want eq, neq, gt, lt or range", op)
		return nil, 0, false
	}
	lo := 0
	if op == "lt" {
		lo = 1
	}
	hi := 65535
	if op == "gt" {
		hi = 65534
	}
	for k := 0; k < n; k++ {
		p, ok := c.intArg(i+1+k, lo, hi, "port")
		if !ok {
			return nil, 0, false
		}
		m.Ports = append(m.Ports, p)
	}
	if op == "range" && m.Ports[0] > m.Ports[1] {
		c.errf(i+2, "port range %d %d is empty", m.Ports[0], m.Ports[1])
		return nil, 0, false
	}
	return m, 1 + n, true
}

func renderCTS(w *writer, c *Config) {
	for _, a := range c.RoleBasedACLs {
		if a.IPv6 {
			w.line("ipv6 access-list role-based %s", q(a.Name))
		} else {
			w.line("ip access-list role-based %s", q(a.Name))
		}
		for _, e := range a.Entries {
			s := "deny"
			if e.Permit {
				s = "permit"
			}
			s += " " + e.Protocol
			if e.Src != nil {
				s += " src " + e.Src.render()
			}
			if e.Dst != nil {
				s += " dst " + e.Dst.render()
			}
			if e.Log {
				s += " log"
			}
			w.line(" %s", s)
		}
		w.bang()
	}
	if c.CTS.Enforcement {
		w.line("cts role-based enforcement")
	}
	sgt := func(n int) string {
		if n == UnknownSGT {
			return "unknown"
		}
		return strconv.Itoa(n)
	}
	for _, p := range c.CTS.Permissions {
		s := "cts role-based permissions"
		if p.Default {
			s += " default"
		} else {
			s += " from " + sgt(p.From) + " to " + sgt(p.To)
		}
		if p.IPv6 {
			s += " ipv6"
		}
		for _, a := range p.ACLs {
			s += " " + q(a)
		}
		w.line("%s", s)
	}
	if c.CTS.Enforcement || len(c.CTS.Permissions) > 0 {
		w.bang()
	}
}

// validateCTS warns about permissions naming role-based ACLs that do not
// exist (IOS accepts them; the cell then has no entries from that list).
func (p *parser) validateCTS() {
	cfg := p.cfg
	for _, pm := range cfg.CTS.Permissions {
		for _, n := range pm.ACLs {
			if cfg.RoleBasedACL(n, pm.IPv6) != nil {
				continue
			}
			kind := "ip"
			if pm.IPv6 {
				kind = "ipv6"
			}
			p.warnf(pm.Pos, "cts role-based permissions: %s access-list role-based %q is not defined; the cell ignores it", kind, n)
		}
	}
	for _, m := range cfg.SGTMaps {
		if m.VRF != "" && cfg.VRF(m.VRF) == nil {
			p.warnf(m.Pos, "cts role-based sgt-map: vrf %q is not defined", m.VRF)
		}
	}
	if len(cfg.CTS.Permissions) > 0 && !cfg.CTS.Enforcement {
		p.warnf(cfg.CTS.Permissions[0].Pos, "cts role-based permissions are configured but not enforced; add `cts role-based enforcement`")
	}
}

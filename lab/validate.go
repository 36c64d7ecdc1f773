package lab

import (
	"fmt"
	"net/netip"
	"regexp"
)

// The only address ranges a lab may use: RFC 2544 benchmarking space and the
// RFC 3849 IPv6 documentation prefix. Nothing in a lab can reach anything else.
var labRanges = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("2001:db8::/32"),
}

const labRangesText = "198.18.0.0/15 and 2001:db8::/32"

// Limits on names. Linux interface names hold at most 15 bytes (IFNAMSIZ-1).
const (
	MaxIfaceLen  = 15
	MaxNodeLen   = 15
	MaxPrefixLen = 10
)

var (
	prefixRE = regexp.MustCompile(`^[a-z0-9]+$`)
	nodeRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	ifaceRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// CheckPrefix reports whether prefix can name a lab: 1 to MaxPrefixLen lower
// case letters and digits. A prefix never contains '-', so that the namespaces
// of lab "t1" ("t1-hub") can never be mistaken for those of another lab.
func CheckPrefix(prefix string) error {
	if len(prefix) == 0 || len(prefix) > MaxPrefixLen || !prefixRE.MatchString(prefix) {
		return fmt.Errorf("lab prefix %q: want 1 to %d lower case letters and digits", prefix, MaxPrefixLen)
	}
	return nil
}

func checkNodeName(name string) error {
	if len(name) == 0 || len(name) > MaxNodeLen || !nodeRE.MatchString(name) {
		return fmt.Errorf("node name %q: want 1 to %d lower case letters, digits and '-', starting with a letter or digit", name, MaxNodeLen)
	}
	return nil
}

func checkIfaceName(name string) error {
	switch {
	case len(name) > MaxIfaceLen:
		return fmt.Errorf("interface name %q is too long (%d bytes, Linux allows %d)", name, len(name), MaxIfaceLen)
	case name == "lo":
		return fmt.Errorf("interface name \"lo\" is reserved for the loopback (put extra addresses under the node's lo key)")
	case !ifaceRE.MatchString(name):
		return fmt.Errorf("interface name %q: use letters, digits, '_', '.' and '-'", name)
	}
	return nil
}

func inLab(a netip.Addr) bool {
	for _, r := range labRanges {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

// prefixInLab reports whether all of p lies inside a lab range.
func prefixInLab(p netip.Prefix) bool {
	for _, r := range labRanges {
		if r.Contains(p.Addr()) && p.Bits() >= r.Bits() {
			return true
		}
	}
	return false
}

// checkIfaceAddr validates an interface address such as 198.18.0.1/24.
func checkIfaceAddr(p netip.Prefix) error {
	a := p.Addr()
	if a.Zone() != "" || a.Is4In6() {
		return fmt.Errorf("%s: zones and IPv4-mapped addresses are not allowed", p)
	}
	if !inLab(a) {
		return fmt.Errorf("%s is outside the lab ranges %s", p, labRangesText)
	}
	if !prefixInLab(p) {
		return fmt.Errorf("%s: the prefix /%d reaches outside the lab ranges %s", p, p.Bits(), labRangesText)
	}
	bits := a.BitLen()
	if p.Bits() < bits-1 {
		if a == p.Masked().Addr() {
			return fmt.Errorf("%s is the network address of %s; use a host address", p, p.Masked())
		}
		if a.Is4() && a == lastAddr(p) {
			return fmt.Errorf("%s is the broadcast address of %s; use a host address", p, p.Masked())
		}
	}
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	start := 0
	if p.Addr().Is4() {
		start = 12
	}
	hostBits := p.Addr().BitLen() - p.Bits()
	for i := 15; i >= start && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	if p.Addr().Is4() {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// addrUse records where an address is configured, for duplicate and overlap
// diagnostics.
type addrUse struct {
	vrf   string // the link's VRF: only uses in one VRF can clash
	pfx   netip.Prefix
	owner string // "link N" or "NODE lo": subnets may be shared only within one owner
	where string // "hub wan" for messages
	line  int
}

func (p *parser) validate(s *Spec) {
	nodes := map[string]*Node{}
	for _, n := range s.Nodes {
		nodes[n.Name] = n
	}
	// Links: endpoints must name existing nodes, distinct, with valid and
	// unique interface names.
	ifaceLine := map[string]int{}
	for li, l := range s.Links {
		if l.A.Node != "" && l.A.Node == l.B.Node {
			p.errorAt(l.Line, "link %d: both ends are on node %q; a link joins two different nodes", li+1, l.A.Node)
			continue
		}
		for _, ep := range []*Endpoint{l.A, l.B} {
			line := p.lines[ifaceKey{ep}]
			n, ok := nodes[ep.Node]
			if !ok {
				if ep.Node != "" {
					p.errorAt(p.lines[ep], "link %d: node %q does not exist (nodes: %s)", li+1, ep.Node, nodeList(s))
				}
				continue
			}
			if ep.Iface == "" {
				continue // named after a peer whose node is missing: reported above
			}
			if err := checkIfaceName(ep.Iface); err != nil {
				p.errorAt(line, "link %d: node %s: %v", li+1, ep.Node, err)
				continue
			}
			key := ep.Node + "/" + ep.Iface
			if first, dup := ifaceLine[key]; dup {
				p.errorAt(line, "link %d: node %s already has an interface %q (line %d); name the ends with iface:", li+1, ep.Node, ep.Iface, first)
				continue
			}
			ifaceLine[key] = line
			n.Ifaces = append(n.Ifaces, ep)
		}
		if l.MTU != 0 && l.MTU < 1280 {
		mtu:
			for _, ep := range []*Endpoint{l.A, l.B} {
				for _, a := range ep.Addrs {
					if a.Addr().Is6() {
						p.errorAt(l.Line, "link %d: mtu %d is below the IPv6 minimum of 1280 but %s is IPv6", li+1, l.MTU, a)
						break mtu
					}
				}
			}
		}
	}
	// Addresses: unique, and subnets of different links (and loopbacks) must
	// not overlap.
	var uses []addrUse
	for _, n := range s.Nodes {
		for _, a := range n.Loopback {
			uses = append(uses, addrUse{"", a, n.Name + " lo", n.Name + " lo", p.lines[loKey{n.Name + "/lo", a}]})
		}
	}
	for li, l := range s.Links {
		for _, ep := range []*Endpoint{l.A, l.B} {
			for i, a := range ep.Addrs {
				uses = append(uses, addrUse{l.VRF, a, fmt.Sprintf("link %d", li+1), ep.Node + " " + ep.Iface, p.lines[addrKey{ep, i}]})
			}
		}
	}
	// Each address is reported once, against the first earlier one it
	// clashes with.
	for i, u := range uses {
		for _, v := range uses[:i] {
			if u.vrf != v.vrf {
				continue
			}
			clash := true
			switch {
			case u.pfx.Addr() == v.pfx.Addr():
				p.errorAt(u.line, "duplicate address %s: already on %s (line %d)", u.pfx.Addr(), v.where, v.line)
			case u.owner != v.owner && u.pfx.Overlaps(v.pfx):
				p.errorAt(u.line, "address %s on %s overlaps %s on %s (line %d); each link needs its own subnet", u.pfx, u.where, v.pfx, v.where, v.line)
			case u.owner == v.owner && u.pfx.Overlaps(v.pfx) && u.pfx.Bits() != v.pfx.Bits():
				p.errorAt(u.line, "address %s on %s and %s on %s (line %d) overlap with different prefix lengths", u.pfx, u.where, v.pfx, v.where, v.line)
			default:
				clash = false
			}
			if clash {
				break
			}
		}
	}
	for _, n := range s.Nodes {
		p.validateRoutes(n)
		if n.NAT != nil {
			if !n.Forward {
				p.errorAt(p.lines[n.Name+"/nat"], "node %s: nat needs forwarding; remove \"forward: false\"", n.Name)
			}
			for _, i := range n.NAT.Masquerade {
				if n.Iface(i) == nil {
					p.errorAt(p.lines[n.Name+"/nat/"+i], "node %s: nat: masquerade interface %q does not exist (interfaces: %s)", n.Name, i, ifaceList(n))
				}
			}
			for _, f := range n.NAT.Forward {
				if (f.To.Is4() && n.NAT.Family == "ip6") || (f.To.Is6() && n.NAT.Family == "ip") {
					p.errorAt(f.Line, "node %s: nat: forward to %v does not match nat family %s", n.Name, f.To, n.NAT.Family)
				}
			}
		}
	}
}

func (p *parser) validateRoutes(n *Node) {
	own := map[netip.Addr]bool{}
	for _, a := range n.Loopback {
		own[a.Addr()] = true
	}
	for _, e := range n.Ifaces {
		for _, a := range e.Addrs {
			own[a.Addr()] = true
		}
	}
	connected := map[netip.Prefix]string{}
	for _, e := range n.Ifaces {
		for _, a := range e.Addrs {
			connected[a.Masked()] = e.Iface
		}
	}
	seen := map[netip.Prefix]int{}
	for _, r := range n.Routes {
		if iface, ok := connected[r.To]; ok {
			p.errorAt(r.Line, "node %s: route to %s: that subnet is directly connected on %s; drop the route", n.Name, r.To, iface)
			continue
		}
		if first, dup := seen[r.To]; dup {
			p.errorAt(r.Line, "node %s: duplicate route to %s (line %d)", n.Name, r.To, first)
			continue
		}
		seen[r.To] = r.Line
		var dev *Endpoint
		if r.Dev != "" {
			if dev = n.Iface(r.Dev); dev == nil {
				p.errorAt(r.Line, "node %s: route to %s: dev %q does not exist (interfaces: %s)", n.Name, r.To, r.Dev, ifaceList(n))
				continue
			}
		}
		if !r.Via.IsValid() {
			continue
		}
		if own[r.Via] {
			p.errorAt(r.Line, "node %s: route to %s: via %s is the node's own address", n.Name, r.To, r.Via)
			continue
		}
		onLink := false
		for _, e := range n.Ifaces {
			if dev != nil && e != dev {
				continue
			}
			for _, a := range e.Addrs {
				if a.Contains(r.Via) {
					onLink = true
				}
			}
		}
		if !onLink {
			where := "any of its links"
			if dev != nil {
				where = "interface " + dev.Iface
			}
			p.errorAt(r.Line, "node %s: route to %s: gateway %s is not on %s", n.Name, r.To, r.Via, where)
		}
	}
}

func nodeList(s *Spec) string {
	out := ""
	for i, n := range s.Nodes {
		if i > 0 {
			out += ", "
		}
		out += n.Name
	}
	return out
}

func ifaceList(n *Node) string {
	if len(n.Ifaces) == 0 {
		return "none"
	}
	out := ""
	for i, e := range n.Ifaces {
		if i > 0 {
			out += ", "
		}
		out += e.Iface
	}
	return out
}

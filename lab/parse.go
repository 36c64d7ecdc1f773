package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the spec file at path. Errors from Parse are a
// *SpecError naming path:LINE.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load lab spec: %w", err)
	}
	return Parse(path, data)
}

// LoadOrInline parses arg as an inline spec when it contains a newline or a
// '{', and as a file path otherwise. Tests and tools use it to accept either.
func LoadOrInline(arg string) (*Spec, error) {
	if strings.ContainsAny(arg, "\n{") {
		return Parse("inline", []byte(arg))
	}
	return Load(arg)
}

// Parse decodes and validates a spec. name labels diagnostics (a path, or
// something like "inline"). Every problem found is reported, each as
// "name:LINE: message", in a *SpecError; nothing is created by Parse.
func Parse(name string, data []byte) (*Spec, error) {
	p := &parser{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.yamlError(err)
		return nil, &SpecError{Diags: p.diags}
	}
	spec := &Spec{File: name}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errorf(nil, "empty spec: want a mapping with nodes and links")
		return nil, &SpecError{Diags: p.diags}
	}
	p.top(deref(doc.Content[0]), spec)
	// Validate what could be decoded even when some of it could not, so a
	// person sees every problem at once, in line order.
	p.validate(spec)
	if len(p.diags) > 0 {
		sort.SliceStable(p.diags, func(i, j int) bool { return p.diags[i].Line < p.diags[j].Line })
		return nil, &SpecError{Diags: p.diags}
	}
	return spec, nil
}

type parser struct {
	file  string
	diags []Diag
	// lines remembers the line of each address, route and link field so that
	// validation can point at it.
	lines map[any]int
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.diags = append(p.diags, Diag{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) errorAt(line int, format string, args ...any) {
	p.diags = append(p.diags, Diag{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns the YAML library's messages ("yaml: line 3: ...") into
// FILE:LINE diagnostics.
func (p *parser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if sub := yamlLineRE.FindStringSubmatch(m); sub != nil {
			line, _ := strconv.Atoi(sub[1])
			p.errorAt(line, "%s", sub[2])
			continue
		}
		p.errorAt(0, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

// fields checks that n is a mapping whose keys are all in allowed and unique,
// and returns the values by key. Unknown and duplicate keys are reported.
func (p *parser) fields(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return out
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping, got %s", what, kindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if !contains(allowed, key) {
			p.errorf(k, "%s: unknown key %q (known keys: %s)", what, key, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[key]; dup {
			p.errorf(k, "%s: duplicate key %q", what, key)
			continue
		}
		out[key] = deref(v)
	}
	return out
}

// deref follows YAML aliases (*name) to the anchored node, so specs can
// share blocks such as route lists. yaml.v3 rejects self-referencing anchors
// and limits alias expansion, so this terminates.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s: want a value, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// list accepts a sequence of scalars or a single scalar.
func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	n = deref(n)
	switch {
	case n.Kind == yaml.SequenceNode:
		items := make([]*yaml.Node, 0, len(n.Content))
		for _, c := range n.Content {
			c = deref(c)
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				p.errorf(c, "%s: want a value, got %s", what, kindName(c))
				return nil
			}
			items = append(items, c)
		}
		return items
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil
	case n.Kind == yaml.ScalarNode:
		return []*yaml.Node{n}
	}
	p.errorf(n, "%s: want a value or a list of values, got %s", what, kindName(n))
	return nil
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	p.errorf(n, "%s: want true or false, got %q", what, s)
	return false, false
}

func (p *parser) top(n *yaml.Node, s *Spec) {
	f := p.fields(n, "spec", "prefix", "description", "nodes", "links")
	if v, ok := f["prefix"]; ok {
		if s.Prefix, ok = p.scalar(v, "prefix"); ok {
			if err := CheckPrefix(s.Prefix); err != nil {
				p.errorf(v, "%v", err)
			}
		}
	}
	if v, ok := f["description"]; ok {
		s.Description, _ = p.scalar(v, "description")
	}
	nodes, ok := f["nodes"]
	if !ok {
		p.errorf(n, "spec: missing key \"nodes\"")
		return
	}
	if nodes.Kind != yaml.MappingNode {
		p.errorf(nodes, "nodes: want a mapping of node name to settings, got %s", kindName(nodes))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(nodes.Content); i += 2 {
		k, v := nodes.Content[i], nodes.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			p.errorf(k, "duplicate node %q (first defined on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if err := checkNodeName(k.Value); err != nil {
			p.errorf(k, "%v", err)
		}
		s.Nodes = append(s.Nodes, p.node(k, v))
	}
	if v, ok := f["links"]; ok {
		if v.Kind == yaml.SequenceNode {
			for _, l := range v.Content {
				if link := p.link(deref(l)); link != nil {
					s.Links = append(s.Links, link)
				}
			}
		} else if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			p.errorf(v, "links: want a list, got %s", kindName(v))
		}
	}
}

// portForward parses one {proto: udp|tcp, port: N, to: ADDR} entry.
func (p *parser) portForward(n *yaml.Node, what string) (PortForward, bool) {
	pf := PortForward{Line: n.Line}
	f := p.fields(n, what, "proto", "port", "to")
	ok := true
	for _, k := range []string{"proto", "port", "to"} {
		if _, has := f[k]; !has {
			p.errorf(n, "%s: missing key %q", what, k)
			ok = false
		}
	}
	if !ok {
		return pf, false
	}
	if s, good := p.scalar(f["proto"], what+": proto"); good {
		if s != "udp" && s != "tcp" {
			p.errorf(f["proto"], "%s: proto must be udp or tcp, got %q", what, s)
			ok = false
		}
		pf.Proto = s
	} else {
		ok = false
	}
	if s, good := p.scalar(f["port"], what+": port"); good {
		v, err := strconv.ParseUint(s, 10, 16)
		if err != nil || v == 0 {
			p.errorf(f["port"], "%s: port must be 1 to 65535, got %q", what, s)
			ok = false
		}
		pf.Port = uint16(v)
	} else {
		ok = false
	}
	if s, good := p.scalar(f["to"], what+": to"); good {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			p.errorf(f["to"], "%s: to must be an address, got %q", what, s)
			ok = false
		} else if a.Is4In6() || !inLab(a) {
			p.errorf(f["to"], "%s: to %v is outside %s", what, a, labRangesText)
			ok = false
		}
		pf.To = a
	} else {
		ok = false
	}
	return pf, ok
}

func (p *parser) node(k, v *yaml.Node) *Node {
	nd := &Node{Name: k.Value, Forward: true, Line: k.Line}
	what := "node " + k.Value
	f := p.fields(v, what, "forward", "lo", "routes", "nat", "sysctl")
	if x, ok := f["forward"]; ok {
		if b, ok := p.boolean(x, what+": forward"); ok {
			nd.Forward = b
		}
	}
	if x, ok := f["lo"]; ok {
		for _, a := range p.list(x, what+": lo") {
			if pfx, ok := p.addr(a, what+": lo"); ok {
				nd.Loopback = append(nd.Loopback, pfx)
				p.remember(pfx, nd.Name+"/lo", a.Line)
			}
		}
	}
	if x, ok := f["routes"]; ok {
		if x.Kind != yaml.SequenceNode {
			p.errorf(x, "%s: routes: want a list, got %s", what, kindName(x))
		} else {
			for _, r := range x.Content {
				if rt, ok := p.route(deref(r), what); ok {
					nd.Routes = append(nd.Routes, rt)
				}
			}
		}
	}
	if x, ok := f["nat"]; ok {
		nf := p.fields(x, what+": nat", "masquerade", "family", "ports", "forward")
		nat := &NAT{Family: "inet"}
		if m, ok := nf["masquerade"]; ok {
			for _, i := range p.list(m, what+": nat: masquerade") {
				nat.Masquerade = append(nat.Masquerade, i.Value)
				p.rememberLine(nd.Name+"/nat/"+i.Value, i.Line)
			}
		} else {
			p.errorf(x, "%s: nat: missing key \"masquerade\" (the outside interfaces)", what)
		}
		if fam, ok := nf["family"]; ok {
			if s, ok := p.scalar(fam, what+": nat: family"); ok {
				if s != "inet" && s != "ip" && s != "ip6" {
					p.errorf(fam, "%s: nat: family must be inet, ip or ip6, got %q", what, s)
				}
				nat.Family = s
			}
		}
		if ports, ok := nf["ports"]; ok {
			if s, ok := p.scalar(ports, what+": nat: ports"); ok {
				switch s {
				case "random":
					nat.RandomPorts = true
				case "preserve":
				default:
					p.errorf(ports, "%s: nat: ports must be preserve or random, got %q", what, s)
				}
			}
		}
		if fw, ok := nf["forward"]; ok {
			if fw.Kind != yaml.SequenceNode {
				p.errorf(fw, "%s: nat: forward: want a list, got %s", what, kindName(fw))
			} else {
				for _, e := range fw.Content {
					if pf, ok := p.portForward(deref(e), what+": nat: forward"); ok {
						nat.Forward = append(nat.Forward, pf)
					}
				}
			}
		}
		nd.NAT = nat
		p.rememberLine(nd.Name+"/nat", x.Line)
	}
	if x, ok := f["sysctl"]; ok {
		if x.Kind != yaml.MappingNode {
			p.errorf(x, "%s: sysctl: want a mapping of name to value, got %s", what, kindName(x))
		} else {
			nd.Sysctls = map[string]string{}
			for i := 0; i+1 < len(x.Content); i += 2 {
				sk, sv := x.Content[i], x.Content[i+1]
				if !sysctlNameRE.MatchString(sk.Value) {
					p.errorf(sk, "%s: sysctl %q: only net.* sysctls (letters, digits, _ - .) are allowed", what, sk.Value)
					continue
				}
				if _, dup := nd.Sysctls[sk.Value]; dup {
					p.errorf(sk, "%s: duplicate sysctl %q", what, sk.Value)
					continue
				}
				if val, ok := p.scalar(sv, what+": sysctl "+sk.Value); ok {
					if strings.ContainsAny(val, "\n\x00") {
						p.errorf(sv, "%s: sysctl %q: value must be one line", what, sk.Value)
						continue
					}
					nd.Sysctls[sk.Value] = val
				}
			}
		}
	}
	return nd
}

var sysctlNameRE = regexp.MustCompile(`^net\.[a-z0-9_-]+(\.[A-Za-z0-9_-]+)+$`)

func (p *parser) route(n *yaml.Node, what string) (Route, bool) {
	rt := Route{Line: n.Line}
	f := p.fields(n, what+": route", "to", "via", "dev")
	ok := true
	to, have := f["to"]
	if !have {
		p.errorf(n, "%s: route: missing key \"to\" (a prefix or \"default\")", what)
		return rt, false
	}
	var viaFamily4, viaSet bool
	if v, have := f["via"]; have {
		s, good := p.scalar(v, what+": route: via")
		if good {
			a, err := netip.ParseAddr(s)
			switch {
			case err != nil:
				p.errorf(v, "%s: route: via %q is not an IP address", what, s)
				ok = false
			case a.Zone() != "" || a.Is4In6():
				p.errorf(v, "%s: route: via %q: zones and IPv4-mapped addresses are not allowed", what, s)
				ok = false
			case !inLab(a):
				p.errorf(v, "%s: route: via %s is outside the lab ranges %s", what, a, labRangesText)
				ok = false
			default:
				rt.Via = a
				viaSet, viaFamily4 = true, a.Is4()
			}
		} else {
			ok = false
		}
	}
	if d, have := f["dev"]; have {
		if s, good := p.scalar(d, what+": route: dev"); good {
			rt.Dev = s
		} else {
			ok = false
		}
	}
	s, good := p.scalar(to, what+": route: to")
	if !good {
		return rt, false
	}
	if s == "default" {
		if !viaSet {
			p.errorf(to, "%s: route: \"default\" needs a via address to pick the family (or write 0.0.0.0/0 or ::/0)", what)
			return rt, false
		}
		if viaFamily4 {
			rt.To = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		} else {
			rt.To = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	} else {
		pfx, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			p.errorf(to, "%s: route: to %q is not a prefix like 198.19.0.0/16 (or \"default\")", what, s)
			return rt, false
		case pfx != pfx.Masked():
			p.errorf(to, "%s: route: to %s has host bits set (did you mean %s?)", what, pfx, pfx.Masked())
			return rt, false
		case pfx.Bits() != 0 && !prefixInLab(pfx):
			p.errorf(to, "%s: route: to %s is outside the lab ranges %s", what, pfx, labRangesText)
			return rt, false
		}
		rt.To = pfx
	}
	if viaSet && rt.To.Addr().Is4() != viaFamily4 {
		p.errorf(n, "%s: route to %s via %s mixes IPv4 and IPv6", what, rt.To, rt.Via)
		ok = false
	}
	if !viaSet && rt.Dev == "" {
		p.errorf(n, "%s: route to %s needs via or dev", what, rt.To)
		ok = false
	}
	return rt, ok
}

func (p *parser) link(n *yaml.Node) *Link {
	f := p.fields(n, "link", "a", "b", "loss", "rate", "burst", "mtu", "queues", "neigh", "offload", "vrf")
	l := &Link{Line: n.Line}
	if v, ok := f["vrf"]; ok {
		if s, ok := p.scalar(v, "link: vrf"); ok {
			if s == "" || strings.ContainsAny(s, " \t/") {
				p.errorf(v, "link: vrf must be a plain name, got %q", s)
			}
			l.VRF = s
		}
	}
	var linkImp Impairment
	p.impairment(f, "link", &linkImp)
	if m, ok := f["mtu"]; ok {
		if s, ok := p.scalar(m, "link: mtu"); ok {
			v, err := strconv.Atoi(s)
			if err != nil || v < 68 || v > 65535 {
				p.errorf(m, "link: mtu must be a number from 68 to 65535, got %q", s)
			} else {
				l.MTU = v
			}
		}
	}
	if q, ok := f["queues"]; ok {
		if s, ok := p.scalar(q, "link: queues"); ok {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > 64 {
				p.errorf(q, "link: queues must be a number from 1 to 64, got %q", s)
			} else {
				l.Queues = v
			}
		}
	}
	if nb, ok := f["neigh"]; ok {
		if s, ok := p.scalar(nb, "link: neigh"); ok {
			switch s {
			case "static":
				l.StaticNeigh = true
			case "dynamic":
			default:
				p.errorf(nb, "link: neigh must be static or dynamic, got %q", s)
			}
		}
	}
	if o, ok := f["offload"]; ok {
		if s, ok := p.scalar(o, "link: offload"); ok {
			switch s {
			case "off":
				l.TxChecksumOff = true
			case "on":
			default:
				p.errorf(o, "link: offload must be on or off, got %q", s)
			}
		}
	}
	for _, side := range []string{"a", "b"} {
		v, ok := f[side]
		if !ok {
			p.errorf(n, "link: missing key %q (an end: {node: NAME, iface: NAME, addr: [...]})", side)
			return nil
		}
		ep := p.endpoint(v, "link: "+side, linkImp)
		ep.Link = l
		if side == "a" {
			l.A = ep
		} else {
			l.B = ep
		}
	}
	l.A.Peer, l.B.Peer = l.B, l.A
	// Interfaces default to the peer node's name: "to-hub" reads worse than "hub".
	for _, ep := range []*Endpoint{l.A, l.B} {
		if ep.Iface == "" {
			ep.Iface = ep.Peer.Node
		}
	}
	return l
}

func (p *parser) endpoint(n *yaml.Node, what string, linkImp Impairment) *Endpoint {
	ep := &Endpoint{Impair: linkImp}
	f := p.fields(n, what, "node", "iface", "addr", "loss", "rate", "burst")
	if v, ok := f["node"]; ok {
		ep.Node, _ = p.scalar(v, what+": node")
		p.rememberLine(ep, v.Line)
	} else {
		p.errorf(n, "%s: missing key \"node\"", what)
		p.rememberLine(ep, n.Line)
	}
	if v, ok := f["iface"]; ok {
		if s, ok := p.scalar(v, what+": iface"); ok {
			ep.Iface = s
			p.rememberLine(ifaceKey{ep}, v.Line)
		}
	} else {
		p.rememberLine(ifaceKey{ep}, n.Line)
	}
	if v, ok := f["addr"]; ok {
		for _, a := range p.list(v, what+": addr") {
			if pfx, ok := p.addr(a, what+": addr"); ok {
				ep.Addrs = append(ep.Addrs, pfx)
				p.rememberLine(addrKey{ep, len(ep.Addrs) - 1}, a.Line)
			}
		}
	}
	p.impairment(f, what, &ep.Impair)
	return ep
}

type ifaceKey struct{ ep *Endpoint }
type addrKey struct {
	ep *Endpoint
	i  int
}

func (p *parser) impairment(f map[string]*yaml.Node, what string, imp *Impairment) {
	if v, ok := f["loss"]; ok {
		if s, ok := p.scalar(v, what+": loss"); ok {
			pct, err := parseLoss(s)
			if err != nil {
				p.errorf(v, "%s: loss: %v", what, err)
			} else {
				imp.LossPercent = pct
			}
		}
	}
	if v, ok := f["rate"]; ok {
		if s, ok := p.scalar(v, what+": rate"); ok {
			r, err := ParseRate(s)
			if err != nil {
				p.errorf(v, "%s: rate: %v", what, err)
			} else {
				imp.RateBits = r
			}
		}
	}
	if v, ok := f["burst"]; ok {
		if s, ok := p.scalar(v, what+": burst"); ok {
			b, err := ParseSize(s)
			if err != nil {
				p.errorf(v, "%s: burst: %v", what, err)
			} else {
				imp.BurstBytes = b
			}
		}
	}
}

func (p *parser) rememberLine(k any, line int) {
	if p.lines == nil {
		p.lines = map[any]int{}
	}
	p.lines[k] = line
}

func (p *parser) remember(pfx netip.Prefix, owner string, line int) {
	p.rememberLine(loKey{owner, pfx}, line)
}

type loKey struct {
	owner string
	pfx   netip.Prefix
}

// addr parses one interface address: an address with its prefix length, in
// the lab ranges, not a network or broadcast address.
func (p *parser) addr(n *yaml.Node, what string) (netip.Prefix, bool) {
	s := n.Value
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		if _, aerr := netip.ParseAddr(s); aerr == nil {
			p.errorf(n, "%s: %q needs a prefix length (like %s/24 or /64)", what, s, s)
		} else {
			p.errorf(n, "%s: %q is not an address with a prefix length (like 198.18.0.1/24): bad prefix", what, s)
		}
		return pfx, false
	}
	if err := checkIfaceAddr(pfx); err != nil {
		p.errorf(n, "%s: %v", what, err)
		return pfx, false
	}
	return pfx, true
}

// ParseRate parses a tc-style rate ("10mbit", "1gbit", "500kbit", "2mbps")
// into bits per second. Units are decimal; "bps" means bytes per second.
func ParseRate(s string) (uint64, error) {
	num, unit := splitNumber(s)
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a rate like 10mbit", s)
	}
	mult := map[string]float64{
		"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
		"bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9,
	}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("%q needs a unit: bit, kbit, mbit, gbit, bps, kbps, mbps or gbps", s)
	}
	bits := v * mult
	if bits < 8000 || bits > 1e12 {
		return 0, fmt.Errorf("%q is out of range (8kbit to 1tbit)", s)
	}
	return uint64(bits), nil
}

// ParseSize parses a tc-style byte size ("32kb", "1mb", "1500"); k and m are
// binary multiples as in tc.
func ParseSize(s string) (uint32, error) {
	num, unit := splitNumber(s)
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%q is not a size like 32kb", s)
	}
	mult := map[string]uint64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unit must be b, kb or mb", s)
	}
	if v*mult > 1<<30 {
		return 0, fmt.Errorf("%q is larger than 1gb", s)
	}
	return uint32(v * mult), nil
}

func parseLoss(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("want a whole percentage from 0 to 100, got %q", s)
	}
	return v, nil
}

func splitNumber(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}

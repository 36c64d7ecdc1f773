// Package lab builds network topologies out of Linux network namespaces from a
// declarative YAML spec: nodes are namespaces, links are veth pairs created
// directly inside them, and each node gets IPv4/IPv6 addresses, routes, an
// optional nftables masquerade (a NAT box) and per-link impairment (random loss
// with nftables numgen, rate limits with a tc tbf qdisc).
//
// Everything a lab creates lives in namespaces named "<prefix>-<node>", so a lab
// is removed by prefix alone (DownPrefix), also after a crash or a half-finished
// Up, without a state file. The root namespace's interfaces, routes and
// nftables are never touched. Addresses are restricted to the benchmarking and
// documentation ranges 198.18.0.0/15 and 2001:db8::/32, and a spec is fully
// validated, with FILE:LINE diagnostics, before anything is created.
//
// The esphub-lab command, the demo, end-to-end tests (through lab/labtest) and
// the benchmarks all build on this package.
package lab

import (
	"fmt"
	"net/netip"
	"strings"
)

// Spec is a validated lab topology. It is immutable after Parse returns and
// safe to share between goroutines.
type Spec struct {
	// File names the source for diagnostics (a path, or a label for inline specs).
	File string
	// Prefix is the namespace prefix the spec asks for ("" when it names none);
	// Options.Prefix overrides it.
	Prefix string
	// Description is free text shown by status.
	Description string
	Nodes       []*Node
	Links       []*Link
}

// Node is one network namespace.
type Node struct {
	Name string
	// Forward enables IPv4 and IPv6 forwarding (default true).
	Forward bool
	// Loopback holds the extra addresses placed on lo (the kernel here has no
	// dummy devices).
	Loopback []netip.Prefix
	Routes   []Route
	// NAT, when set, makes the node masquerade traffic leaving the named
	// interfaces.
	NAT *NAT
	// Sysctls are extra net.* sysctls applied inside the namespace, keyed by
	// dotted name ("net.ipv4.conf.all.accept_redirects").
	Sysctls map[string]string
	// Ifaces lists the node's link interfaces in spec order (filled by Parse).
	Ifaces []*Endpoint
	Line   int
}

// Route is a static route inside a node.
type Route struct {
	To  netip.Prefix // 0.0.0.0/0 or ::/0 for "default"
	Via netip.Addr   // gateway; invalid when the route is device-only
	Dev string       // output interface; "" lets the kernel pick by gateway
	// Line is the spec line, for diagnostics.
	Line int
}

// NAT configures an nftables masquerade inside a node.
type NAT struct {
	// Masquerade names the outside interfaces: traffic forwarded or sent out of
	// them gets the interface's address as its source.
	Masquerade []string
	// Family is "inet" (IPv4 and IPv6, the default), "ip" or "ip6".
	Family string
	// RandomPorts makes the NAT pick random source ports ("ports: random")
	// instead of keeping the original port when it is free, the way many
	// consumer NATs do: UDP 500 then leaves as some other port.
	RandomPorts bool
	// Forward are static port forwards ("forward: [{proto: udp, port: 500,
	// to: ADDR}]"): packets arriving on a masquerade interface for the port
	// go to the inside address, as a home router forwards IKE to the VPN
	// router behind it. Replies to them go back out translated.
	Forward []PortForward
}

// PortForward is one static destination NAT of a NAT node.
type PortForward struct {
	Proto string // "udp" or "tcp"
	Port  uint16
	To    netip.Addr
	// Line is the spec line, for diagnostics.
	Line int
}

// Impairment degrades traffic leaving an interface.
type Impairment struct {
	// LossPercent drops that share of IP packets at random (nftables numgen
	// in the receiving node, so the sender sees no error).
	LossPercent int
	// RateBits limits the egress rate in bits per second with tc tbf (0: none).
	RateBits uint64
	// BurstBytes is the tbf bucket size; 0 picks a default from the rate.
	BurstBytes uint32
}

// IsZero reports whether the impairment does nothing.
func (i Impairment) IsZero() bool { return i.LossPercent == 0 && i.RateBits == 0 }

// Link is a veth pair between two nodes.
type Link struct {
	A, B *Endpoint
	// MTU of both ends (0: kernel default).
	MTU int
	// Queues is the number of RX and TX queues of each end (0: kernel
	// default); AF_XDP binds one socket per queue.
	Queues int
	// StaticNeigh installs permanent neighbour entries for the peer's
	// addresses on both ends, so no ARP or ND crosses the link (dataplane
	// benchmarks that bypass the kernel stack need this).
	StaticNeigh bool
	// VRF names the routing domain of the link's addresses (a customer VRF
	// on the router it attaches to). Addresses are unique and subnets
	// disjoint within one domain; links of different VRFs may reuse them,
	// as overlapping VRF LANs behind one router do.
	VRF string
	// TxChecksumOff turns transmit checksum offload off on both ends, so
	// each end hands its peer finished TCP and UDP checksums, as a real NIC
	// delivers them. An XDP program (the AF_XDP dataplane) sees only frame
	// bytes, not the kernel's note that a veth frame's checksum is still to
	// be filled in.
	TxChecksumOff bool
	Line          int
}

// Endpoint is one end of a link: an interface inside a node.
type Endpoint struct {
	Node  string
	Iface string
	Addrs []netip.Prefix
	// Impair applies to traffic leaving this end (link-level settings are
	// copied to both ends; end-level settings override them).
	Impair Impairment
	// Peer is the other end of the link.
	Peer *Endpoint
	Link *Link
}

// Node returns the named node, or nil.
func (s *Spec) Node(name string) *Node {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Iface returns the endpoint named iface on the node, or nil.
func (n *Node) Iface(name string) *Endpoint {
	for _, e := range n.Ifaces {
		if e.Iface == name {
			return e
		}
	}
	return nil
}

// Addrs returns the addresses configured on the node's interface iface ("lo"
// for the loopback addresses), in spec order. The slice must not be modified.
func (s *Spec) Addrs(node, iface string) []netip.Prefix {
	n := s.Node(node)
	if n == nil {
		return nil
	}
	if iface == "lo" {
		return n.Loopback
	}
	if e := n.Iface(iface); e != nil {
		return e.Addrs
	}
	return nil
}

// Diag is one problem found in a spec.
type Diag struct {
	File string
	Line int
	Msg  string
}

func (d Diag) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Msg)
}

// SpecError lists every problem Parse found, one FILE:LINE: message per line.
type SpecError struct {
	Diags []Diag
}

func (e *SpecError) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}
